-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_click_rollups" table
CREATE TABLE `new_click_rollups` (`id` text NOT NULL, `account_id` text NOT NULL, `hour` integer NOT NULL, `property_id` text NOT NULL, `utm_source` text NOT NULL DEFAULT (''), `utm_medium` text NOT NULL DEFAULT (''), `utm_campaign` text NOT NULL DEFAULT (''), `pages` bool NOT NULL DEFAULT (false), `minutes` integer NOT NULL DEFAULT (60), `landing_page` text NOT NULL DEFAULT (''), `clicks` integer NOT NULL DEFAULT (0), `outbound_clicks` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- copy rows from old table "click_rollups" to new temporary table "new_click_rollups"
INSERT INTO `new_click_rollups` (`id`, `account_id`, `hour`, `property_id`, `utm_source`, `utm_medium`, `utm_campaign`, `pages`, `landing_page`, `clicks`, `outbound_clicks`) SELECT `id`, `account_id`, `hour`, `property_id`, `utm_source`, `utm_medium`, `utm_campaign`, `pages`, `landing_page`, `clicks`, `outbound_clicks` FROM `click_rollups`;
-- drop "click_rollups" table after copying rows
DROP TABLE `click_rollups`;
-- rename temporary table "new_click_rollups" to "click_rollups"
ALTER TABLE `new_click_rollups` RENAME TO `click_rollups`;
-- create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
CREATE INDEX `clickrollup_account_id_pages_hour` ON `click_rollups` (`account_id`, `pages`, `hour`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
DROP INDEX `clickrollup_account_id_pages_hour`;
-- reverse: create "new_click_rollups" table
DROP TABLE `new_click_rollups`;

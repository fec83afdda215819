-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_conversion_rollups" table
CREATE TABLE `new_conversion_rollups` (`id` text NOT NULL, `account_id` text NOT NULL, `hour` integer NOT NULL, `click_hour` integer NOT NULL DEFAULT (-1), `level` integer NOT NULL DEFAULT (0), `integration_id` text NOT NULL, `event_name` text NOT NULL DEFAULT (''), `currency` text NOT NULL DEFAULT (''), `property_id` text NOT NULL DEFAULT (''), `utm_source` text NOT NULL DEFAULT (''), `utm_medium` text NOT NULL DEFAULT (''), `utm_campaign` text NOT NULL DEFAULT (''), `landing_page` text NOT NULL DEFAULT (''), `destination_id` text NOT NULL DEFAULT (''), `conversions` integer NOT NULL DEFAULT (0), `leads` integer NOT NULL DEFAULT (0), `purchases` integer NOT NULL DEFAULT (0), `amount_micros` integer NOT NULL DEFAULT (0), `deliveries_sent` integer NOT NULL DEFAULT (0), `deliveries_failed` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- copy rows from old table "conversion_rollups" to new temporary table "new_conversion_rollups"
INSERT INTO `new_conversion_rollups` (`id`, `account_id`, `hour`, `integration_id`, `event_name`, `currency`, `conversions`, `leads`, `purchases`, `amount_micros`) SELECT `id`, `account_id`, `hour`, `integration_id`, `event_name`, `currency`, `conversions`, `leads`, `purchases`, `amount_micros` FROM `conversion_rollups`;
-- drop "conversion_rollups" table after copying rows
DROP TABLE `conversion_rollups`;
-- rename temporary table "new_conversion_rollups" to "conversion_rollups"
ALTER TABLE `new_conversion_rollups` RENAME TO `conversion_rollups`;
-- create index "conversionrollup_account_id_level_hour" to table: "conversion_rollups"
CREATE INDEX `conversionrollup_account_id_level_hour` ON `conversion_rollups` (`account_id`, `level`, `hour`);
-- create index "conversionrollup_account_id_level_click_hour" to table: "conversion_rollups"
CREATE INDEX `conversionrollup_account_id_level_click_hour` ON `conversion_rollups` (`account_id`, `level`, `click_hour`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "conversionrollup_account_id_level_click_hour" to table: "conversion_rollups"
DROP INDEX `conversionrollup_account_id_level_click_hour`;
-- reverse: create index "conversionrollup_account_id_level_hour" to table: "conversion_rollups"
DROP INDEX `conversionrollup_account_id_level_hour`;
-- reverse: create "new_conversion_rollups" table
DROP TABLE `new_conversion_rollups`;

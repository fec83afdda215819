-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_deliveries" table
CREATE TABLE `new_deliveries` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `last_error` text NULL, `event_id` text NOT NULL, `event_name` text NULL, `last_attempt_at` datetime NULL, `sent_at` datetime NULL, `attempt_log` json NULL, `adjustment` text NULL, `adjustment_time` datetime NULL, `adjustment_value_micros` integer NOT NULL DEFAULT (0), `adjustment_attempts` integer NOT NULL DEFAULT (0), `adjustment_response` text NULL, `adjusted_at` datetime NULL, `claim` text NULL, `claimed_until` datetime NULL, `account_id` text NOT NULL, `conversion_id` text NOT NULL, `destination_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `deliveries_accounts_deliveries` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `deliveries_conversions_deliveries` FOREIGN KEY (`conversion_id`) REFERENCES `conversions` (`id`) ON DELETE NO ACTION, CONSTRAINT `deliveries_destinations_deliveries` FOREIGN KEY (`destination_id`) REFERENCES `destinations` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "deliveries" to new temporary table "new_deliveries"
INSERT INTO `new_deliveries` (`id`, `created_at`, `updated_at`, `status`, `attempts`, `last_error`, `event_id`, `event_name`, `last_attempt_at`, `sent_at`, `attempt_log`, `claim`, `claimed_until`, `account_id`, `conversion_id`, `destination_id`) SELECT `id`, `created_at`, `updated_at`, `status`, `attempts`, `last_error`, `event_id`, `event_name`, `last_attempt_at`, `sent_at`, `attempt_log`, `claim`, `claimed_until`, `account_id`, `conversion_id`, `destination_id` FROM `deliveries`;
-- drop "deliveries" table after copying rows
DROP TABLE `deliveries`;
-- rename temporary table "new_deliveries" to "deliveries"
ALTER TABLE `new_deliveries` RENAME TO `deliveries`;
-- create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
CREATE UNIQUE INDEX `delivery_account_id_conversion_id_destination_id` ON `deliveries` (`account_id`, `conversion_id`, `destination_id`);
-- create index "delivery_account_id_status_created_at" to table: "deliveries"
CREATE INDEX `delivery_account_id_status_created_at` ON `deliveries` (`account_id`, `status`, `created_at`);
-- create index "delivery_destination_id_status_created_at" to table: "deliveries"
CREATE INDEX `delivery_destination_id_status_created_at` ON `deliveries` (`destination_id`, `status`, `created_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "delivery_destination_id_status_created_at" to table: "deliveries"
DROP INDEX `delivery_destination_id_status_created_at`;
-- reverse: create index "delivery_account_id_status_created_at" to table: "deliveries"
DROP INDEX `delivery_account_id_status_created_at`;
-- reverse: create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
DROP INDEX `delivery_account_id_conversion_id_destination_id`;
-- reverse: create "new_deliveries" table
DROP TABLE `new_deliveries`;

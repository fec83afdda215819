-- +goose Up
-- create "api_keys" table
CREATE TABLE `api_keys` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `role` text NOT NULL, `key_hash` text NOT NULL, `prefix` text NOT NULL, `created_by` text NULL, `last_used_at` datetime NULL, `revoked_at` datetime NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `api_keys_accounts_api_keys` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "api_keys_key_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_key_hash_key` ON `api_keys` (`key_hash`);
-- create index "apikey_account_id_created_at" to table: "api_keys"
CREATE INDEX `apikey_account_id_created_at` ON `api_keys` (`account_id`, `created_at`);
-- create "accounts" table
CREATE TABLE `accounts` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `key` text NOT NULL, `currency` text NOT NULL DEFAULT ('USD'), `timezone` text NOT NULL DEFAULT ('UTC'), `attribution_model` text NOT NULL DEFAULT ('LAST_CLICK'), `attribution_window_days` integer NOT NULL DEFAULT (30), `retention_days` integer NOT NULL DEFAULT (400), PRIMARY KEY (`id`));
-- create index "accounts_key_key" to table: "accounts"
CREATE UNIQUE INDEX `accounts_key_key` ON `accounts` (`key`);
-- create "audit_logs" table
CREATE TABLE `audit_logs` (`id` text NOT NULL, `actor_user_id` text NULL, `actor_api_key_id` text NULL, `action` text NOT NULL, `target_type` text NOT NULL, `target_id` text NULL, `summary` text NOT NULL, `created_at` datetime NOT NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `audit_logs_accounts_audit_logs` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "auditlog_account_id_created_at" to table: "audit_logs"
CREATE INDEX `auditlog_account_id_created_at` ON `audit_logs` (`account_id`, `created_at`);
-- create "clicks" table
CREATE TABLE `clicks` (`id` text NOT NULL, `click_id` text NOT NULL, `landing_page` text NULL, `referrer` text NULL, `title` text NULL, `utm_source` text NULL, `utm_medium` text NULL, `utm_campaign` text NULL, `utm_term` text NULL, `utm_content` text NULL, `gclid` text NULL, `gbraid` text NULL, `wbraid` text NULL, `fbclid` text NULL, `ttclid` text NULL, `msclkid` text NULL, `li_fat_id` text NULL, `twclid` text NULL, `epik` text NULL, `sccid` text NULL, `fbp` text NULL, `fbc` text NULL, `ttp` text NULL, `ip` text NULL, `user_agent` text NULL, `language` text NULL, `screen` text NULL, `external_id` text NULL, `email_sha256` text NULL, `bot` bool NOT NULL DEFAULT (false), `created_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `account_id` text NOT NULL, `property_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `clicks_accounts_clicks` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `clicks_properties_clicks` FOREIGN KEY (`property_id`) REFERENCES `properties` (`id`) ON DELETE NO ACTION);
-- create index "click_account_id_click_id" to table: "clicks"
CREATE UNIQUE INDEX `click_account_id_click_id` ON `clicks` (`account_id`, `click_id`);
-- create index "click_account_id_created_at" to table: "clicks"
CREATE INDEX `click_account_id_created_at` ON `clicks` (`account_id`, `created_at`);
-- create index "click_account_id_external_id" to table: "clicks"
CREATE INDEX `click_account_id_external_id` ON `clicks` (`account_id`, `external_id`);
-- create index "click_account_id_email_sha256" to table: "clicks"
CREATE INDEX `click_account_id_email_sha256` ON `clicks` (`account_id`, `email_sha256`);
-- create "click_rollups" table
CREATE TABLE `click_rollups` (`id` text NOT NULL, `account_id` text NOT NULL, `hour` integer NOT NULL, `property_id` text NOT NULL, `utm_source` text NOT NULL DEFAULT (''), `utm_medium` text NOT NULL DEFAULT (''), `utm_campaign` text NOT NULL DEFAULT (''), `pages` bool NOT NULL DEFAULT (false), `landing_page` text NOT NULL DEFAULT (''), `clicks` integer NOT NULL DEFAULT (0), `outbound_clicks` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
CREATE INDEX `clickrollup_account_id_pages_hour` ON `click_rollups` (`account_id`, `pages`, `hour`);
-- create "conversions" table
CREATE TABLE `conversions` (`id` text NOT NULL, `status` text NOT NULL DEFAULT ('RECEIVED'), `kind` text NOT NULL DEFAULT ('LEAD'), `event_name` text NOT NULL DEFAULT ('Lead'), `amount_micros` integer NOT NULL DEFAULT (0), `currency` text NOT NULL DEFAULT ('USD'), `click_id` text NULL, `transaction_id` text NULL, `dedup_key` text NULL, `network_status` text NULL, `external_id` text NULL, `email_sha256` text NULL, `attributes` json NULL, `raw_request` text NULL, `reason` text NULL, `source_ip` text NULL, `test` bool NOT NULL DEFAULT (false), `attribution` json NULL, `received_at` datetime NOT NULL, `matched_at` datetime NULL, `updated_at` datetime NOT NULL, `account_id` text NOT NULL, `visit_id` text NULL, `integration_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `conversions_accounts_conversions` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `conversions_clicks_conversions` FOREIGN KEY (`visit_id`) REFERENCES `clicks` (`id`) ON DELETE SET NULL, CONSTRAINT `conversions_integrations_conversions` FOREIGN KEY (`integration_id`) REFERENCES `integrations` (`id`) ON DELETE NO ACTION);
-- create index "conversion_account_id_integration_id_dedup_key" to table: "conversions"
CREATE UNIQUE INDEX `conversion_account_id_integration_id_dedup_key` ON `conversions` (`account_id`, `integration_id`, `dedup_key`);
-- create index "conversion_account_id_received_at" to table: "conversions"
CREATE INDEX `conversion_account_id_received_at` ON `conversions` (`account_id`, `received_at`);
-- create index "conversion_account_id_status_received_at" to table: "conversions"
CREATE INDEX `conversion_account_id_status_received_at` ON `conversions` (`account_id`, `status`, `received_at`);
-- create index "conversion_account_id_integration_id_received_at" to table: "conversions"
CREATE INDEX `conversion_account_id_integration_id_received_at` ON `conversions` (`account_id`, `integration_id`, `received_at`);
-- create index "conversion_account_id_click_id" to table: "conversions"
CREATE INDEX `conversion_account_id_click_id` ON `conversions` (`account_id`, `click_id`);
-- create index "conversion_account_id_transaction_id" to table: "conversions"
CREATE INDEX `conversion_account_id_transaction_id` ON `conversions` (`account_id`, `transaction_id`);
-- create index "conversion_account_id_updated_at" to table: "conversions"
CREATE INDEX `conversion_account_id_updated_at` ON `conversions` (`account_id`, `updated_at`);
-- create "conversion_rollups" table
CREATE TABLE `conversion_rollups` (`id` text NOT NULL, `account_id` text NOT NULL, `hour` integer NOT NULL, `integration_id` text NOT NULL, `event_name` text NOT NULL DEFAULT (''), `currency` text NOT NULL DEFAULT (''), `conversions` integer NOT NULL DEFAULT (0), `leads` integer NOT NULL DEFAULT (0), `purchases` integer NOT NULL DEFAULT (0), `amount_micros` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- create index "conversionrollup_account_id_hour" to table: "conversion_rollups"
CREATE INDEX `conversionrollup_account_id_hour` ON `conversion_rollups` (`account_id`, `hour`);
-- create "deliveries" table
CREATE TABLE `deliveries` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `last_error` text NULL, `event_id` text NOT NULL, `event_name` text NULL, `last_attempt_at` datetime NULL, `sent_at` datetime NULL, `attempt_log` json NULL, `claim` text NULL, `claimed_until` datetime NULL, `account_id` text NOT NULL, `conversion_id` text NOT NULL, `destination_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `deliveries_accounts_deliveries` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `deliveries_conversions_deliveries` FOREIGN KEY (`conversion_id`) REFERENCES `conversions` (`id`) ON DELETE NO ACTION, CONSTRAINT `deliveries_destinations_deliveries` FOREIGN KEY (`destination_id`) REFERENCES `destinations` (`id`) ON DELETE NO ACTION);
-- create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
CREATE UNIQUE INDEX `delivery_account_id_conversion_id_destination_id` ON `deliveries` (`account_id`, `conversion_id`, `destination_id`);
-- create index "delivery_account_id_status_created_at" to table: "deliveries"
CREATE INDEX `delivery_account_id_status_created_at` ON `deliveries` (`account_id`, `status`, `created_at`);
-- create index "delivery_destination_id_status_created_at" to table: "deliveries"
CREATE INDEX `delivery_destination_id_status_created_at` ON `deliveries` (`destination_id`, `status`, `created_at`);
-- create "destinations" table
CREATE TABLE `destinations` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `kind` text NOT NULL, `enabled` bool NOT NULL DEFAULT (true), `settings` json NULL, `credentials` blob NULL, `key_id` text NULL, `event_mapping` json NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `destinations_accounts_destinations` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "destination_account_id_created_at" to table: "destinations"
CREATE INDEX `destination_account_id_created_at` ON `destinations` (`account_id`, `created_at`);
-- create "exchange_rates" table
CREATE TABLE `exchange_rates` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `currency` text NOT NULL, `per_usd` real NOT NULL, PRIMARY KEY (`id`));
-- create index "exchange_rates_currency_key" to table: "exchange_rates"
CREATE UNIQUE INDEX `exchange_rates_currency_key` ON `exchange_rates` (`currency`);
-- create "integrations" table
CREATE TABLE `integrations` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NOT NULL, `network` text NOT NULL DEFAULT ('CUSTOM'), `login_url` text NULL, `click_id_macro` text NULL, `payout_macro` text NULL, `transaction_id_macro` text NULL, `currency_macro` text NULL, `status_macro` text NULL, `event_macro` text NULL, `attribute_macros` json NULL, `param_mappings` json NULL, `status_mappings` json NULL, `ip_allowlist` json NULL, `enabled` bool NOT NULL DEFAULT (true), `secret` text NOT NULL, `previous_secret` text NULL, `previous_secret_expires_at` datetime NULL, `rejected_calls` integer NOT NULL DEFAULT (0), `last_rejected_at` datetime NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `integrations_accounts_integrations` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "integration_account_id_slug" to table: "integrations"
CREATE UNIQUE INDEX `integration_account_id_slug` ON `integrations` (`account_id`, `slug`);
-- create "invitations" table
CREATE TABLE `invitations` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email` text NOT NULL, `role` text NOT NULL, `token_hash` text NOT NULL, `invited_by` text NULL, `expires_at` datetime NOT NULL, `accepted_at` datetime NULL, `accepted_by` text NULL, `revoked_at` datetime NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `invitations_accounts_invitations` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "invitations_token_hash_key" to table: "invitations"
CREATE UNIQUE INDEX `invitations_token_hash_key` ON `invitations` (`token_hash`);
-- create index "invitation_account_id_created_at" to table: "invitations"
CREATE INDEX `invitation_account_id_created_at` ON `invitations` (`account_id`, `created_at`);
-- create "memberships" table
CREATE TABLE `memberships` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `role` text NOT NULL, `account_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `memberships_accounts_memberships` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `memberships_users_memberships` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- create index "membership_account_id_user_id" to table: "memberships"
CREATE UNIQUE INDEX `membership_account_id_user_id` ON `memberships` (`account_id`, `user_id`);
-- create index "membership_user_id" to table: "memberships"
CREATE INDEX `membership_user_id` ON `memberships` (`user_id`);
-- create "properties" table
CREATE TABLE `properties` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `domain` text NULL, `key` text NOT NULL, `attribution_window_days` integer NOT NULL DEFAULT (0), `autotag_rules` json NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `properties_accounts_properties` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- create index "properties_key_key" to table: "properties"
CREATE UNIQUE INDEX `properties_key_key` ON `properties` (`key`);
-- create index "property_account_id_created_at" to table: "properties"
CREATE INDEX `property_account_id_created_at` ON `properties` (`account_id`, `created_at`);
-- create "rollup_states" table
CREATE TABLE `rollup_states` (`id` text NOT NULL, `name` text NOT NULL, `sealed_through` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- create index "rollup_states_name_key" to table: "rollup_states"
CREATE UNIQUE INDEX `rollup_states_name_key` ON `rollup_states` (`name`);
-- create "track_events" table
CREATE TABLE `track_events` (`id` text NOT NULL, `click_id` text NOT NULL, `name` text NOT NULL, `url` text NULL, `link_url` text NULL, `value_micros` integer NULL, `currency` text NULL, `props` json NULL, `bot` bool NOT NULL DEFAULT (false), `created_at` datetime NOT NULL, `account_id` text NOT NULL, `property_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `track_events_accounts_track_events` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `track_events_properties_track_events` FOREIGN KEY (`property_id`) REFERENCES `properties` (`id`) ON DELETE NO ACTION);
-- create index "trackevent_account_id_created_at" to table: "track_events"
CREATE INDEX `trackevent_account_id_created_at` ON `track_events` (`account_id`, `created_at`);
-- create index "trackevent_account_id_click_id" to table: "track_events"
CREATE INDEX `trackevent_account_id_click_id` ON `track_events` (`account_id`, `click_id`);
-- create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, PRIMARY KEY (`id`));
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);

-- +goose Down
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX `users_email_key`;
-- reverse: create "users" table
DROP TABLE `users`;
-- reverse: create index "trackevent_account_id_click_id" to table: "track_events"
DROP INDEX `trackevent_account_id_click_id`;
-- reverse: create index "trackevent_account_id_created_at" to table: "track_events"
DROP INDEX `trackevent_account_id_created_at`;
-- reverse: create "track_events" table
DROP TABLE `track_events`;
-- reverse: create index "rollup_states_name_key" to table: "rollup_states"
DROP INDEX `rollup_states_name_key`;
-- reverse: create "rollup_states" table
DROP TABLE `rollup_states`;
-- reverse: create index "property_account_id_created_at" to table: "properties"
DROP INDEX `property_account_id_created_at`;
-- reverse: create index "properties_key_key" to table: "properties"
DROP INDEX `properties_key_key`;
-- reverse: create "properties" table
DROP TABLE `properties`;
-- reverse: create index "membership_user_id" to table: "memberships"
DROP INDEX `membership_user_id`;
-- reverse: create index "membership_account_id_user_id" to table: "memberships"
DROP INDEX `membership_account_id_user_id`;
-- reverse: create "memberships" table
DROP TABLE `memberships`;
-- reverse: create index "invitation_account_id_created_at" to table: "invitations"
DROP INDEX `invitation_account_id_created_at`;
-- reverse: create index "invitations_token_hash_key" to table: "invitations"
DROP INDEX `invitations_token_hash_key`;
-- reverse: create "invitations" table
DROP TABLE `invitations`;
-- reverse: create index "integration_account_id_slug" to table: "integrations"
DROP INDEX `integration_account_id_slug`;
-- reverse: create "integrations" table
DROP TABLE `integrations`;
-- reverse: create index "exchange_rates_currency_key" to table: "exchange_rates"
DROP INDEX `exchange_rates_currency_key`;
-- reverse: create "exchange_rates" table
DROP TABLE `exchange_rates`;
-- reverse: create index "destination_account_id_created_at" to table: "destinations"
DROP INDEX `destination_account_id_created_at`;
-- reverse: create "destinations" table
DROP TABLE `destinations`;
-- reverse: create index "delivery_destination_id_status_created_at" to table: "deliveries"
DROP INDEX `delivery_destination_id_status_created_at`;
-- reverse: create index "delivery_account_id_status_created_at" to table: "deliveries"
DROP INDEX `delivery_account_id_status_created_at`;
-- reverse: create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
DROP INDEX `delivery_account_id_conversion_id_destination_id`;
-- reverse: create "deliveries" table
DROP TABLE `deliveries`;
-- reverse: create index "conversionrollup_account_id_hour" to table: "conversion_rollups"
DROP INDEX `conversionrollup_account_id_hour`;
-- reverse: create "conversion_rollups" table
DROP TABLE `conversion_rollups`;
-- reverse: create index "conversion_account_id_updated_at" to table: "conversions"
DROP INDEX `conversion_account_id_updated_at`;
-- reverse: create index "conversion_account_id_transaction_id" to table: "conversions"
DROP INDEX `conversion_account_id_transaction_id`;
-- reverse: create index "conversion_account_id_click_id" to table: "conversions"
DROP INDEX `conversion_account_id_click_id`;
-- reverse: create index "conversion_account_id_integration_id_received_at" to table: "conversions"
DROP INDEX `conversion_account_id_integration_id_received_at`;
-- reverse: create index "conversion_account_id_status_received_at" to table: "conversions"
DROP INDEX `conversion_account_id_status_received_at`;
-- reverse: create index "conversion_account_id_received_at" to table: "conversions"
DROP INDEX `conversion_account_id_received_at`;
-- reverse: create index "conversion_account_id_integration_id_dedup_key" to table: "conversions"
DROP INDEX `conversion_account_id_integration_id_dedup_key`;
-- reverse: create "conversions" table
DROP TABLE `conversions`;
-- reverse: create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
DROP INDEX `clickrollup_account_id_pages_hour`;
-- reverse: create "click_rollups" table
DROP TABLE `click_rollups`;
-- reverse: create index "click_account_id_email_sha256" to table: "clicks"
DROP INDEX `click_account_id_email_sha256`;
-- reverse: create index "click_account_id_external_id" to table: "clicks"
DROP INDEX `click_account_id_external_id`;
-- reverse: create index "click_account_id_created_at" to table: "clicks"
DROP INDEX `click_account_id_created_at`;
-- reverse: create index "click_account_id_click_id" to table: "clicks"
DROP INDEX `click_account_id_click_id`;
-- reverse: create "clicks" table
DROP TABLE `clicks`;
-- reverse: create index "auditlog_account_id_created_at" to table: "audit_logs"
DROP INDEX `auditlog_account_id_created_at`;
-- reverse: create "audit_logs" table
DROP TABLE `audit_logs`;
-- reverse: create index "accounts_key_key" to table: "accounts"
DROP INDEX `accounts_key_key`;
-- reverse: create "accounts" table
DROP TABLE `accounts`;
-- reverse: create index "apikey_account_id_created_at" to table: "api_keys"
DROP INDEX `apikey_account_id_created_at`;
-- reverse: create index "api_keys_key_hash_key" to table: "api_keys"
DROP INDEX `api_keys_key_hash_key`;
-- reverse: create "api_keys" table
DROP TABLE `api_keys`;

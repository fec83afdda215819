-- +goose Up
-- create "accounts" table
CREATE TABLE "accounts" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "key" character varying NOT NULL, "currency" character varying NOT NULL DEFAULT 'USD', "timezone" character varying NOT NULL DEFAULT 'UTC', "attribution_model" character varying NOT NULL DEFAULT 'LAST_CLICK', "attribution_window_days" bigint NOT NULL DEFAULT 30, "retention_days" bigint NOT NULL DEFAULT 400, PRIMARY KEY ("id"));
-- create index "accounts_key_key" to table: "accounts"
CREATE UNIQUE INDEX "accounts_key_key" ON "accounts" ("key");
-- create "click_rollups" table
CREATE TABLE "click_rollups" ("id" character varying NOT NULL, "account_id" character varying NOT NULL, "hour" bigint NOT NULL, "property_id" character varying NOT NULL, "utm_source" character varying NOT NULL DEFAULT '', "utm_medium" character varying NOT NULL DEFAULT '', "utm_campaign" character varying NOT NULL DEFAULT '', "pages" boolean NOT NULL DEFAULT false, "landing_page" character varying NOT NULL DEFAULT '', "clicks" bigint NOT NULL DEFAULT 0, "outbound_clicks" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
CREATE INDEX "clickrollup_account_id_pages_hour" ON "click_rollups" ("account_id", "pages", "hour");
-- create "conversion_rollups" table
CREATE TABLE "conversion_rollups" ("id" character varying NOT NULL, "account_id" character varying NOT NULL, "hour" bigint NOT NULL, "integration_id" character varying NOT NULL, "event_name" character varying NOT NULL DEFAULT '', "currency" character varying NOT NULL DEFAULT '', "conversions" bigint NOT NULL DEFAULT 0, "leads" bigint NOT NULL DEFAULT 0, "purchases" bigint NOT NULL DEFAULT 0, "amount_micros" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- create index "conversionrollup_account_id_hour" to table: "conversion_rollups"
CREATE INDEX "conversionrollup_account_id_hour" ON "conversion_rollups" ("account_id", "hour");
-- create "rollup_states" table
CREATE TABLE "rollup_states" ("id" character varying NOT NULL, "name" character varying NOT NULL, "sealed_through" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- create index "rollup_states_name_key" to table: "rollup_states"
CREATE UNIQUE INDEX "rollup_states_name_key" ON "rollup_states" ("name");
-- create "exchange_rates" table
CREATE TABLE "exchange_rates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "currency" character varying NOT NULL, "per_usd" double precision NOT NULL, PRIMARY KEY ("id"));
-- create index "exchange_rates_currency_key" to table: "exchange_rates"
CREATE UNIQUE INDEX "exchange_rates_currency_key" ON "exchange_rates" ("currency");
-- create "api_keys" table
CREATE TABLE "api_keys" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "role" character varying NOT NULL, "key_hash" character varying NOT NULL, "prefix" character varying NOT NULL, "created_by" character varying NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_accounts_api_keys" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "api_keys_key_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" ("key_hash");
-- create index "apikey_account_id_created_at" to table: "api_keys"
CREATE INDEX "apikey_account_id_created_at" ON "api_keys" ("account_id", "created_at");
-- create "audit_logs" table
CREATE TABLE "audit_logs" ("id" character varying NOT NULL, "actor_user_id" character varying NULL, "actor_api_key_id" character varying NULL, "action" character varying NOT NULL, "target_type" character varying NOT NULL, "target_id" character varying NULL, "summary" character varying NOT NULL, "created_at" timestamptz NOT NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "audit_logs_accounts_audit_logs" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "auditlog_account_id_created_at" to table: "audit_logs"
CREATE INDEX "auditlog_account_id_created_at" ON "audit_logs" ("account_id", "created_at");
-- create "properties" table
CREATE TABLE "properties" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "domain" character varying NULL, "key" character varying NOT NULL, "attribution_window_days" bigint NOT NULL DEFAULT 0, "autotag_rules" jsonb NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "properties_accounts_properties" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "properties_key_key" to table: "properties"
CREATE UNIQUE INDEX "properties_key_key" ON "properties" ("key");
-- create index "property_account_id_created_at" to table: "properties"
CREATE INDEX "property_account_id_created_at" ON "properties" ("account_id", "created_at");
-- create "clicks" table
CREATE TABLE "clicks" ("id" character varying NOT NULL, "click_id" character varying NOT NULL, "landing_page" character varying NULL, "referrer" character varying NULL, "title" character varying NULL, "utm_source" character varying NULL, "utm_medium" character varying NULL, "utm_campaign" character varying NULL, "utm_term" character varying NULL, "utm_content" character varying NULL, "gclid" character varying NULL, "gbraid" character varying NULL, "wbraid" character varying NULL, "fbclid" character varying NULL, "ttclid" character varying NULL, "msclkid" character varying NULL, "li_fat_id" character varying NULL, "twclid" character varying NULL, "epik" character varying NULL, "sccid" character varying NULL, "fbp" character varying NULL, "fbc" character varying NULL, "ttp" character varying NULL, "ip" character varying NULL, "user_agent" character varying NULL, "language" character varying NULL, "screen" character varying NULL, "external_id" character varying NULL, "email_sha256" character varying NULL, "bot" boolean NOT NULL DEFAULT false, "created_at" timestamptz NOT NULL, "last_seen_at" timestamptz NOT NULL, "account_id" character varying NOT NULL, "property_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "clicks_accounts_clicks" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "clicks_properties_clicks" FOREIGN KEY ("property_id") REFERENCES "properties" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "click_account_id_click_id" to table: "clicks"
CREATE UNIQUE INDEX "click_account_id_click_id" ON "clicks" ("account_id", "click_id");
-- create index "click_account_id_created_at" to table: "clicks"
CREATE INDEX "click_account_id_created_at" ON "clicks" ("account_id", "created_at");
-- create index "click_account_id_email_sha256" to table: "clicks"
CREATE INDEX "click_account_id_email_sha256" ON "clicks" ("account_id", "email_sha256");
-- create index "click_account_id_external_id" to table: "clicks"
CREATE INDEX "click_account_id_external_id" ON "clicks" ("account_id", "external_id");
-- create "integrations" table
CREATE TABLE "integrations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "slug" character varying NOT NULL, "network" character varying NOT NULL DEFAULT 'CUSTOM', "login_url" character varying NULL, "click_id_macro" character varying NULL, "payout_macro" character varying NULL, "transaction_id_macro" character varying NULL, "currency_macro" character varying NULL, "status_macro" character varying NULL, "event_macro" character varying NULL, "attribute_macros" jsonb NULL, "param_mappings" jsonb NULL, "status_mappings" jsonb NULL, "ip_allowlist" jsonb NULL, "enabled" boolean NOT NULL DEFAULT true, "secret" character varying NOT NULL, "previous_secret" character varying NULL, "previous_secret_expires_at" timestamptz NULL, "rejected_calls" bigint NOT NULL DEFAULT 0, "last_rejected_at" timestamptz NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "integrations_accounts_integrations" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "integration_account_id_slug" to table: "integrations"
CREATE UNIQUE INDEX "integration_account_id_slug" ON "integrations" ("account_id", "slug");
-- create "conversions" table
CREATE TABLE "conversions" ("id" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'RECEIVED', "kind" character varying NOT NULL DEFAULT 'LEAD', "event_name" character varying NOT NULL DEFAULT 'Lead', "amount_micros" bigint NOT NULL DEFAULT 0, "currency" character varying NOT NULL DEFAULT 'USD', "click_id" character varying NULL, "transaction_id" character varying NULL, "dedup_key" character varying NULL, "network_status" character varying NULL, "external_id" character varying NULL, "email_sha256" character varying NULL, "attributes" jsonb NULL, "raw_request" text NULL, "reason" character varying NULL, "source_ip" character varying NULL, "test" boolean NOT NULL DEFAULT false, "attribution" jsonb NULL, "received_at" timestamptz NOT NULL, "matched_at" timestamptz NULL, "updated_at" timestamptz NOT NULL, "account_id" character varying NOT NULL, "visit_id" character varying NULL, "integration_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "conversions_accounts_conversions" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "conversions_clicks_conversions" FOREIGN KEY ("visit_id") REFERENCES "clicks" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "conversions_integrations_conversions" FOREIGN KEY ("integration_id") REFERENCES "integrations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "conversion_account_id_click_id" to table: "conversions"
CREATE INDEX "conversion_account_id_click_id" ON "conversions" ("account_id", "click_id");
-- create index "conversion_account_id_integration_id_dedup_key" to table: "conversions"
CREATE UNIQUE INDEX "conversion_account_id_integration_id_dedup_key" ON "conversions" ("account_id", "integration_id", "dedup_key");
-- create index "conversion_account_id_integration_id_received_at" to table: "conversions"
CREATE INDEX "conversion_account_id_integration_id_received_at" ON "conversions" ("account_id", "integration_id", "received_at");
-- create index "conversion_account_id_received_at" to table: "conversions"
CREATE INDEX "conversion_account_id_received_at" ON "conversions" ("account_id", "received_at");
-- create index "conversion_account_id_status_received_at" to table: "conversions"
CREATE INDEX "conversion_account_id_status_received_at" ON "conversions" ("account_id", "status", "received_at");
-- create index "conversion_account_id_transaction_id" to table: "conversions"
CREATE INDEX "conversion_account_id_transaction_id" ON "conversions" ("account_id", "transaction_id");
-- create index "conversion_account_id_updated_at" to table: "conversions"
CREATE INDEX "conversion_account_id_updated_at" ON "conversions" ("account_id", "updated_at");
-- create "destinations" table
CREATE TABLE "destinations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "kind" character varying NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "settings" jsonb NULL, "credentials" bytea NULL, "key_id" character varying NULL, "event_mapping" jsonb NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "destinations_accounts_destinations" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "destination_account_id_created_at" to table: "destinations"
CREATE INDEX "destination_account_id_created_at" ON "destinations" ("account_id", "created_at");
-- create "deliveries" table
CREATE TABLE "deliveries" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "attempts" bigint NOT NULL DEFAULT 0, "last_error" character varying NULL, "event_id" character varying NOT NULL, "event_name" character varying NULL, "last_attempt_at" timestamptz NULL, "sent_at" timestamptz NULL, "attempt_log" jsonb NULL, "claim" character varying NULL, "claimed_until" timestamptz NULL, "account_id" character varying NOT NULL, "conversion_id" character varying NOT NULL, "destination_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "deliveries_accounts_deliveries" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "deliveries_conversions_deliveries" FOREIGN KEY ("conversion_id") REFERENCES "conversions" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "deliveries_destinations_deliveries" FOREIGN KEY ("destination_id") REFERENCES "destinations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
CREATE UNIQUE INDEX "delivery_account_id_conversion_id_destination_id" ON "deliveries" ("account_id", "conversion_id", "destination_id");
-- create index "delivery_account_id_status_created_at" to table: "deliveries"
CREATE INDEX "delivery_account_id_status_created_at" ON "deliveries" ("account_id", "status", "created_at");
-- create index "delivery_destination_id_status_created_at" to table: "deliveries"
CREATE INDEX "delivery_destination_id_status_created_at" ON "deliveries" ("destination_id", "status", "created_at");
-- create "invitations" table
CREATE TABLE "invitations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "email" character varying NOT NULL, "role" character varying NOT NULL, "token_hash" character varying NOT NULL, "invited_by" character varying NULL, "expires_at" timestamptz NOT NULL, "accepted_at" timestamptz NULL, "accepted_by" character varying NULL, "revoked_at" timestamptz NULL, "account_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "invitations_accounts_invitations" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "invitation_account_id_created_at" to table: "invitations"
CREATE INDEX "invitation_account_id_created_at" ON "invitations" ("account_id", "created_at");
-- create index "invitations_token_hash_key" to table: "invitations"
CREATE UNIQUE INDEX "invitations_token_hash_key" ON "invitations" ("token_hash");
-- create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "email" character varying NOT NULL, "password_hash" character varying NOT NULL, PRIMARY KEY ("id"));
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- create "memberships" table
CREATE TABLE "memberships" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "role" character varying NOT NULL, "account_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "memberships_accounts_memberships" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "memberships_users_memberships" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "membership_account_id_user_id" to table: "memberships"
CREATE UNIQUE INDEX "membership_account_id_user_id" ON "memberships" ("account_id", "user_id");
-- create index "membership_user_id" to table: "memberships"
CREATE INDEX "membership_user_id" ON "memberships" ("user_id");
-- create "track_events" table
CREATE TABLE "track_events" ("id" character varying NOT NULL, "click_id" character varying NOT NULL, "name" character varying NOT NULL, "url" character varying NULL, "link_url" character varying NULL, "value_micros" bigint NULL, "currency" character varying NULL, "props" jsonb NULL, "bot" boolean NOT NULL DEFAULT false, "created_at" timestamptz NOT NULL, "account_id" character varying NOT NULL, "property_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "track_events_accounts_track_events" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "track_events_properties_track_events" FOREIGN KEY ("property_id") REFERENCES "properties" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "trackevent_account_id_click_id" to table: "track_events"
CREATE INDEX "trackevent_account_id_click_id" ON "track_events" ("account_id", "click_id");
-- create index "trackevent_account_id_created_at" to table: "track_events"
CREATE INDEX "trackevent_account_id_created_at" ON "track_events" ("account_id", "created_at");

-- +goose Down
-- reverse: create index "trackevent_account_id_created_at" to table: "track_events"
DROP INDEX "trackevent_account_id_created_at";
-- reverse: create index "trackevent_account_id_click_id" to table: "track_events"
DROP INDEX "trackevent_account_id_click_id";
-- reverse: create "track_events" table
DROP TABLE "track_events";
-- reverse: create index "membership_user_id" to table: "memberships"
DROP INDEX "membership_user_id";
-- reverse: create index "membership_account_id_user_id" to table: "memberships"
DROP INDEX "membership_account_id_user_id";
-- reverse: create "memberships" table
DROP TABLE "memberships";
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX "users_email_key";
-- reverse: create "users" table
DROP TABLE "users";
-- reverse: create index "invitations_token_hash_key" to table: "invitations"
DROP INDEX "invitations_token_hash_key";
-- reverse: create index "invitation_account_id_created_at" to table: "invitations"
DROP INDEX "invitation_account_id_created_at";
-- reverse: create "invitations" table
DROP TABLE "invitations";
-- reverse: create index "delivery_destination_id_status_created_at" to table: "deliveries"
DROP INDEX "delivery_destination_id_status_created_at";
-- reverse: create index "delivery_account_id_status_created_at" to table: "deliveries"
DROP INDEX "delivery_account_id_status_created_at";
-- reverse: create index "delivery_account_id_conversion_id_destination_id" to table: "deliveries"
DROP INDEX "delivery_account_id_conversion_id_destination_id";
-- reverse: create "deliveries" table
DROP TABLE "deliveries";
-- reverse: create index "destination_account_id_created_at" to table: "destinations"
DROP INDEX "destination_account_id_created_at";
-- reverse: create "destinations" table
DROP TABLE "destinations";
-- reverse: create index "conversion_account_id_updated_at" to table: "conversions"
DROP INDEX "conversion_account_id_updated_at";
-- reverse: create index "conversion_account_id_transaction_id" to table: "conversions"
DROP INDEX "conversion_account_id_transaction_id";
-- reverse: create index "conversion_account_id_status_received_at" to table: "conversions"
DROP INDEX "conversion_account_id_status_received_at";
-- reverse: create index "conversion_account_id_received_at" to table: "conversions"
DROP INDEX "conversion_account_id_received_at";
-- reverse: create index "conversion_account_id_integration_id_received_at" to table: "conversions"
DROP INDEX "conversion_account_id_integration_id_received_at";
-- reverse: create index "conversion_account_id_integration_id_dedup_key" to table: "conversions"
DROP INDEX "conversion_account_id_integration_id_dedup_key";
-- reverse: create index "conversion_account_id_click_id" to table: "conversions"
DROP INDEX "conversion_account_id_click_id";
-- reverse: create "conversions" table
DROP TABLE "conversions";
-- reverse: create index "integration_account_id_slug" to table: "integrations"
DROP INDEX "integration_account_id_slug";
-- reverse: create "integrations" table
DROP TABLE "integrations";
-- reverse: create index "click_account_id_external_id" to table: "clicks"
DROP INDEX "click_account_id_external_id";
-- reverse: create index "click_account_id_email_sha256" to table: "clicks"
DROP INDEX "click_account_id_email_sha256";
-- reverse: create index "click_account_id_created_at" to table: "clicks"
DROP INDEX "click_account_id_created_at";
-- reverse: create index "click_account_id_click_id" to table: "clicks"
DROP INDEX "click_account_id_click_id";
-- reverse: create "clicks" table
DROP TABLE "clicks";
-- reverse: create index "property_account_id_created_at" to table: "properties"
DROP INDEX "property_account_id_created_at";
-- reverse: create index "properties_key_key" to table: "properties"
DROP INDEX "properties_key_key";
-- reverse: create "properties" table
DROP TABLE "properties";
-- reverse: create index "auditlog_account_id_created_at" to table: "audit_logs"
DROP INDEX "auditlog_account_id_created_at";
-- reverse: create "audit_logs" table
DROP TABLE "audit_logs";
-- reverse: create index "apikey_account_id_created_at" to table: "api_keys"
DROP INDEX "apikey_account_id_created_at";
-- reverse: create index "api_keys_key_hash_key" to table: "api_keys"
DROP INDEX "api_keys_key_hash_key";
-- reverse: create "api_keys" table
DROP TABLE "api_keys";
-- reverse: create index "exchange_rates_currency_key" to table: "exchange_rates"
DROP INDEX "exchange_rates_currency_key";
-- reverse: create "exchange_rates" table
DROP TABLE "exchange_rates";
-- reverse: create index "rollup_states_name_key" to table: "rollup_states"
DROP INDEX "rollup_states_name_key";
-- reverse: create "rollup_states" table
DROP TABLE "rollup_states";
-- reverse: create index "conversionrollup_account_id_hour" to table: "conversion_rollups"
DROP INDEX "conversionrollup_account_id_hour";
-- reverse: create "conversion_rollups" table
DROP TABLE "conversion_rollups";
-- reverse: create index "clickrollup_account_id_pages_hour" to table: "click_rollups"
DROP INDEX "clickrollup_account_id_pages_hour";
-- reverse: create "click_rollups" table
DROP TABLE "click_rollups";
-- reverse: create index "accounts_key_key" to table: "accounts"
DROP INDEX "accounts_key_key";
-- reverse: create "accounts" table
DROP TABLE "accounts";

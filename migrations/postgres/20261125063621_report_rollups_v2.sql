-- +goose Up
-- drop index "conversionrollup_account_id_hour" from table: "conversion_rollups"
DROP INDEX "conversionrollup_account_id_hour";
-- modify "conversion_rollups" table
ALTER TABLE "conversion_rollups" ADD COLUMN "click_hour" bigint NOT NULL DEFAULT -1, ADD COLUMN "level" bigint NOT NULL DEFAULT 0, ADD COLUMN "property_id" character varying NOT NULL DEFAULT '', ADD COLUMN "utm_source" character varying NOT NULL DEFAULT '', ADD COLUMN "utm_medium" character varying NOT NULL DEFAULT '', ADD COLUMN "utm_campaign" character varying NOT NULL DEFAULT '', ADD COLUMN "landing_page" character varying NOT NULL DEFAULT '', ADD COLUMN "destination_id" character varying NOT NULL DEFAULT '', ADD COLUMN "deliveries_sent" bigint NOT NULL DEFAULT 0, ADD COLUMN "deliveries_failed" bigint NOT NULL DEFAULT 0;
-- create index "conversionrollup_account_id_level_click_hour" to table: "conversion_rollups"
CREATE INDEX "conversionrollup_account_id_level_click_hour" ON "conversion_rollups" ("account_id", "level", "click_hour");
-- create index "conversionrollup_account_id_level_hour" to table: "conversion_rollups"
CREATE INDEX "conversionrollup_account_id_level_hour" ON "conversion_rollups" ("account_id", "level", "hour");

-- +goose Down
-- reverse: create index "conversionrollup_account_id_level_hour" to table: "conversion_rollups"
DROP INDEX "conversionrollup_account_id_level_hour";
-- reverse: create index "conversionrollup_account_id_level_click_hour" to table: "conversion_rollups"
DROP INDEX "conversionrollup_account_id_level_click_hour";
-- reverse: modify "conversion_rollups" table
ALTER TABLE "conversion_rollups" DROP COLUMN "deliveries_failed", DROP COLUMN "deliveries_sent", DROP COLUMN "destination_id", DROP COLUMN "landing_page", DROP COLUMN "utm_campaign", DROP COLUMN "utm_medium", DROP COLUMN "utm_source", DROP COLUMN "property_id", DROP COLUMN "level", DROP COLUMN "click_hour";
-- reverse: drop index "conversionrollup_account_id_hour" from table: "conversion_rollups"
CREATE INDEX "conversionrollup_account_id_hour" ON "conversion_rollups" ("account_id", "hour");

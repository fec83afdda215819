-- +goose Up
-- modify "clicks" table
ALTER TABLE "clicks" DROP CONSTRAINT "clicks_accounts_clicks";
-- drop index "conversion_account_id_integration_id_dedup_key" from table: "conversions"
DROP INDEX "conversion_account_id_integration_id_dedup_key";
-- drop index "conversion_account_id_transaction_id" from table: "conversions"
DROP INDEX "conversion_account_id_transaction_id";
-- modify "conversions" table
ALTER TABLE "conversions" DROP CONSTRAINT "conversions_accounts_conversions";
-- create index "conversion_account_id_transaction_id_integration_id_dedup_key" to table: "conversions"
CREATE UNIQUE INDEX "conversion_account_id_transaction_id_integration_id_dedup_key" ON "conversions" ("account_id", "transaction_id", "integration_id", "dedup_key");
-- modify "deliveries" table
ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_accounts_deliveries";
-- modify "track_events" table
ALTER TABLE "track_events" DROP CONSTRAINT "track_events_accounts_track_events";

-- +goose Down
-- reverse: modify "track_events" table
ALTER TABLE "track_events" ADD CONSTRAINT "track_events_accounts_track_events" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION;
-- reverse: modify "deliveries" table
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_accounts_deliveries" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION;
-- reverse: create index "conversion_account_id_transaction_id_integration_id_dedup_key" to table: "conversions"
DROP INDEX "conversion_account_id_transaction_id_integration_id_dedup_key";
-- reverse: modify "conversions" table
ALTER TABLE "conversions" ADD CONSTRAINT "conversions_accounts_conversions" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION;
-- reverse: drop index "conversion_account_id_transaction_id" from table: "conversions"
CREATE INDEX "conversion_account_id_transaction_id" ON "conversions" ("account_id", "transaction_id");
-- reverse: drop index "conversion_account_id_integration_id_dedup_key" from table: "conversions"
CREATE UNIQUE INDEX "conversion_account_id_integration_id_dedup_key" ON "conversions" ("account_id", "integration_id", "dedup_key");
-- reverse: modify "clicks" table
ALTER TABLE "clicks" ADD CONSTRAINT "clicks_accounts_clicks" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION;

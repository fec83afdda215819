-- +goose Up
-- drop index "delivery_account_id_conversion_id_destination_id" from table: "deliveries"
DROP INDEX "delivery_account_id_conversion_id_destination_id";
-- drop index "delivery_conversion_id" from table: "deliveries"
DROP INDEX "delivery_conversion_id";
-- create index "delivery_conversion_id_destination_id" to table: "deliveries"
CREATE UNIQUE INDEX "delivery_conversion_id_destination_id" ON "deliveries" ("conversion_id", "destination_id");

-- +goose Down
-- reverse: create index "delivery_conversion_id_destination_id" to table: "deliveries"
DROP INDEX "delivery_conversion_id_destination_id";
-- reverse: drop index "delivery_conversion_id" from table: "deliveries"
CREATE INDEX "delivery_conversion_id" ON "deliveries" ("conversion_id");
-- reverse: drop index "delivery_account_id_conversion_id_destination_id" from table: "deliveries"
CREATE UNIQUE INDEX "delivery_account_id_conversion_id_destination_id" ON "deliveries" ("account_id", "conversion_id", "destination_id");

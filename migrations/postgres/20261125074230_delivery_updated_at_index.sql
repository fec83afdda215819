-- +goose Up
-- create index "delivery_updated_at" to table: "deliveries"
CREATE INDEX "delivery_updated_at" ON "deliveries" ("updated_at");

-- +goose Down
-- reverse: create index "delivery_updated_at" to table: "deliveries"
DROP INDEX "delivery_updated_at";

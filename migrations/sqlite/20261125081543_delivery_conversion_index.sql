-- +goose Up
-- create index "delivery_conversion_id" to table: "deliveries"
CREATE INDEX `delivery_conversion_id` ON `deliveries` (`conversion_id`);

-- +goose Down
-- reverse: create index "delivery_conversion_id" to table: "deliveries"
DROP INDEX `delivery_conversion_id`;

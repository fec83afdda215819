-- +goose Up
-- modify "deliveries" table
ALTER TABLE "deliveries" ADD COLUMN "adjustment" character varying NULL, ADD COLUMN "adjustment_time" timestamptz NULL, ADD COLUMN "adjustment_value_micros" bigint NOT NULL DEFAULT 0, ADD COLUMN "adjustment_attempts" bigint NOT NULL DEFAULT 0, ADD COLUMN "adjustment_response" character varying NULL, ADD COLUMN "adjusted_at" timestamptz NULL;

-- +goose Down
-- reverse: modify "deliveries" table
ALTER TABLE "deliveries" DROP COLUMN "adjusted_at", DROP COLUMN "adjustment_response", DROP COLUMN "adjustment_attempts", DROP COLUMN "adjustment_value_micros", DROP COLUMN "adjustment_time", DROP COLUMN "adjustment";

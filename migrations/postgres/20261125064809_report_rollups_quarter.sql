-- +goose Up
-- modify "click_rollups" table
ALTER TABLE "click_rollups" ADD COLUMN "minutes" bigint NOT NULL DEFAULT 60;

-- +goose Down
-- reverse: modify "click_rollups" table
ALTER TABLE "click_rollups" DROP COLUMN "minutes";

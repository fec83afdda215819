-- +goose Up
-- drop index "clickrollup_account_id_pages_hour" from table: "click_rollups"
DROP INDEX "clickrollup_account_id_pages_hour";
-- create index "clickrollup_account_id_pages_minutes_hour" to table: "click_rollups"
CREATE INDEX "clickrollup_account_id_pages_minutes_hour" ON "click_rollups" ("account_id", "pages", "minutes", "hour");

-- +goose Down
-- reverse: create index "clickrollup_account_id_pages_minutes_hour" to table: "click_rollups"
DROP INDEX "clickrollup_account_id_pages_minutes_hour";
-- reverse: drop index "clickrollup_account_id_pages_hour" from table: "click_rollups"
CREATE INDEX "clickrollup_account_id_pages_hour" ON "click_rollups" ("account_id", "pages", "hour");

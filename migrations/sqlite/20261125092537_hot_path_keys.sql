-- +goose Up
-- drop index "conversion_account_id_integration_id_dedup_key" from table: "conversions"
DROP INDEX `conversion_account_id_integration_id_dedup_key`;
-- drop index "conversion_account_id_transaction_id" from table: "conversions"
DROP INDEX `conversion_account_id_transaction_id`;
-- create index "conversion_account_id_transaction_id_integration_id_dedup_key" to table: "conversions"
CREATE UNIQUE INDEX `conversion_account_id_transaction_id_integration_id_dedup_key` ON `conversions` (`account_id`, `transaction_id`, `integration_id`, `dedup_key`);

-- +goose Down
-- reverse: create index "conversion_account_id_transaction_id_integration_id_dedup_key" to table: "conversions"
DROP INDEX `conversion_account_id_transaction_id_integration_id_dedup_key`;
-- reverse: drop index "conversion_account_id_transaction_id" from table: "conversions"
CREATE INDEX `conversion_account_id_transaction_id` ON `conversions` (`account_id`, `transaction_id`);
-- reverse: drop index "conversion_account_id_integration_id_dedup_key" from table: "conversions"
CREATE UNIQUE INDEX `conversion_account_id_integration_id_dedup_key` ON `conversions` (`account_id`, `integration_id`, `dedup_key`);

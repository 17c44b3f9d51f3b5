-- +goose Up
-- Idempotency keys expire: the purge deletes the rows older than the TTL.
create index idempotency_keys_created_at on idempotency_keys (created_at);

-- +goose Down
drop index idempotency_keys_created_at;

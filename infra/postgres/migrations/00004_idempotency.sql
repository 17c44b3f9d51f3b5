-- +goose Up
-- One row per idempotency key: a claim while its request runs (status null),
-- the recorded response once it is done (completed_at set).
create table idempotency_keys (
    scope        text        not null,
    key          text        not null,
    fingerprint  text        not null,
    status       int,
    content_type text,
    body         bytea,
    created_at   timestamptz not null default now(),
    completed_at timestamptz,
    primary key (scope, key)
);

-- +goose Down
drop table idempotency_keys;

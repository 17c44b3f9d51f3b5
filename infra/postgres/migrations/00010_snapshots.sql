-- Aggregate snapshots: the latest state of a stream at a version, so that
-- loading a show with a long history reads only the events after it.

-- +goose Up
create table snapshots (
    stream_id  text primary key,
    version    bigint not null,
    data       jsonb not null,
    taken_at   timestamptz not null default now()
);

-- +goose Down
drop table snapshots;

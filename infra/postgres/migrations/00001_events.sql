-- +goose Up
-- The event store. position is the global log: dense, allocated from
-- log_head while holding its row lock, so positions become visible in order.
create table events (
    position    bigint      primary key check (position > 0),
    event_id    uuid        not null,
    stream_id   text        not null,
    version     bigint      not null check (version > 0),
    type        text        not null,
    data        jsonb       not null,
    metadata    jsonb       not null default '{}',
    recorded_at timestamptz not null default now(),
    constraint events_event_id_key unique (event_id),
    constraint events_stream_version_key unique (stream_id, version)
);

-- The last allocated position; exactly one row.
create table log_head (
    singleton boolean primary key default true check (singleton),
    position  bigint  not null
);
insert into log_head (position) values (0);

-- +goose Down
drop table log_head;
drop table events;

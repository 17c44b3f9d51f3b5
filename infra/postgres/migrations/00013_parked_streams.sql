-- Streams a projection parked: an event it cannot apply (a data error, an
-- event it cannot decode) parks its own stream, and the stream's later
-- events wait behind it, in order, while every other stream goes on.
--
-- projection_parked_streams has one row per parked stream: the event that
-- failed first (its version, position and type) and the error.
-- projection_parked_events holds the events waiting, the failing one first,
-- as they were recorded, so that `ticketing projections retry` can apply
-- them, in order, with a fixed projector. Both are written in the
-- transaction that moves the projection's checkpoint or Kafka progress past
-- the events, so nothing is skipped silently.

-- +goose Up
create table projection_parked_streams (
    name        text not null,
    stream_id   text not null,
    version     bigint not null,
    commit_pos  bigint not null,
    prepare_pos bigint not null,
    type        text not null,
    error       text not null,
    parked_at   timestamptz not null default now(),
    primary key (name, stream_id)
);

create table projection_parked_events (
    name        text not null,
    stream_id   text not null,
    version     bigint not null,
    commit_pos  bigint not null,
    prepare_pos bigint not null,
    event_id    uuid not null,
    type        text not null,
    data        bytea not null,
    metadata    bytea not null,
    recorded_at timestamptz not null,
    primary key (name, stream_id, version)
);

-- +goose Down
drop table projection_parked_events;
drop table projection_parked_streams;

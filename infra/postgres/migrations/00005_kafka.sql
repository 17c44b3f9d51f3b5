-- Progress of the Kafka relay and of projections fed by Kafka.
--
-- The relay records how far it published the global log (relay_checkpoints)
-- and, per partition, the position of the last event it published there
-- (relay_partitions), in one transaction after Kafka acknowledged.
-- A projection fed by Kafka records, in the transaction of its read-model
-- change, the version it applied of each stream (projection_streams: a
-- redelivered event is skipped, a missing one stalls the projection) and the
-- last position it applied from each partition (projection_partitions).
-- Together they tell whether a projection has reached a global position
-- (X-Min-Position) without reading Kafka.

-- +goose Up
create table relay_checkpoints (
    name        text primary key,
    commit_pos  bigint not null,
    prepare_pos bigint not null,
    updated_at  timestamptz not null default now()
);

create table relay_partitions (
    name        text not null,
    partition   int not null,
    commit_pos  bigint not null,
    prepare_pos bigint not null,
    primary key (name, partition)
);

create table projection_partitions (
    name        text not null,
    partition   int not null,
    commit_pos  bigint not null default 0,
    prepare_pos bigint not null default 0,
    updated_at  timestamptz not null default now(),
    primary key (name, partition)
);

create table projection_streams (
    name      text not null,
    stream_id text not null,
    version   bigint not null,
    primary key (name, stream_id)
);

-- +goose Down
drop table projection_streams;
drop table projection_partitions;
drop table relay_partitions;
drop table relay_checkpoints;

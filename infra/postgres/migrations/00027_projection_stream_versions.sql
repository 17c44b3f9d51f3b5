-- The versions a projection fed by Kafka applied of each stream
-- (00005_kafka.sql) move to one row per stream, with the version of every
-- projection in it: a delivered batch of 13 new streams to the seven
-- projections wrote 91 rows of projection_streams and read them back, the
-- largest statements of its transaction (issue 15, docs/kafka-latency.md);
-- it now writes and reads 13. Every writer takes the rows in stream_id
-- order, so transactions of different projections that share streams wait
-- for each other instead of deadlocking.

-- +goose Up
create table projection_stream_versions (
    stream_id text primary key,
    versions  jsonb not null -- {"<projection>": version, ...}
);
insert into projection_stream_versions (stream_id, versions)
    select stream_id, jsonb_object_agg(name, version) from projection_streams group by stream_id;
drop table projection_streams;

-- +goose Down
create table projection_streams (
    name      text not null,
    stream_id text not null,
    version   bigint not null,
    primary key (name, stream_id)
);
insert into projection_streams (name, stream_id, version)
    select v.key, p.stream_id, v.value::bigint from projection_stream_versions p, jsonb_each_text(p.versions) v;
drop table projection_stream_versions;

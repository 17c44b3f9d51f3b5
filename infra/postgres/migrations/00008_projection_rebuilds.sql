-- Rebuilds in progress (`ticketing replay`), for `ticketing projections status`.
-- A row whose updated_at is old belongs to a rebuild that was killed.

-- +goose Up
create table projection_rebuilds (
    name       text primary key,
    mode       text not null, -- shadow | in-place | dry-run
    position   bigint not null,
    target     bigint not null,
    started_at timestamptz not null,
    updated_at timestamptz not null
);

-- +goose Down
drop table projection_rebuilds;

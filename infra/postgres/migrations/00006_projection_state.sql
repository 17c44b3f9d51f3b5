-- The state of each projection (live or stalled, with the error), written by
-- the process that runs it when the state changes, read by
-- `ticketing projections status` and the metrics of every process.

-- +goose Up
create table projection_state (
    name       text primary key,
    state      text not null,
    last_error text not null default '',
    failures   int not null default 0,
    updated_at timestamptz not null default now()
);

-- +goose Down
drop table projection_state;

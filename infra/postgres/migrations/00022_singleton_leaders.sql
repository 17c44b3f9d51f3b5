-- Who holds each singleton role (issue 15: singleton): the relay of a topic,
-- the expirer. The role's lock is a session advisory lock (see
-- postgres.Singleton); this table only says which process took it, and since
-- when, for `projections status`, which checks in pg_locks that the session
-- backend_pid still holds the lock key.

-- +goose Up
create table singleton_leaders (
	name        text primary key,
	key         bigint not null,
	host        text not null,
	pid         int not null,
	backend_pid int not null,
	since       timestamptz not null
);

-- +goose Down
drop table singleton_leaders;

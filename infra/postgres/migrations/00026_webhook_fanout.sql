-- The webhook fanout's own state (issue 16: webhooks): its checkpoint in
-- the global log, committed with the deliveries it queued, and the
-- organizer of every show, learnt from show.created, to route the events
-- of a show to its organizer's endpoints.

-- +goose Up
create table webhook_fanout (
	id      int primary key check (id = 1),
	commit  bigint not null,
	prepare bigint not null
);
insert into webhook_fanout values (1, 0, 0);

create table webhook_show_owners (
	show_id      uuid primary key,
	organizer_id uuid not null
);

-- +goose Down
drop table webhook_show_owners;
drop table webhook_fanout;

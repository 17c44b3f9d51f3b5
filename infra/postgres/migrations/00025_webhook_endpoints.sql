-- Outbound webhooks (issue 16: webhooks): the endpoints integrators
-- registered and their deliveries, one per (endpoint, event), with every
-- attempt made. Not a read model: a rebuild leaves them alone. See
-- webhooks.Store and docs/webhooks.md.

-- +goose Up
create table webhook_endpoints (
	id                uuid primary key,
	seq               bigserial unique,
	owner_id          uuid not null,
	all_shows         boolean not null,
	url               text not null,
	description       text not null,
	event_types       text[] not null,
	secret            text not null,
	previous_secret   text not null default '',
	previous_until    timestamptz,
	enabled           boolean not null,
	disabled_reason   text not null default '',
	disabled_at       timestamptz,
	created_at        timestamptz not null
);
create index webhook_endpoints_owner on webhook_endpoints (owner_id, seq);

create table webhook_deliveries (
	id              uuid primary key,
	seq             bigserial unique,
	endpoint_id     uuid not null references webhook_endpoints (id),
	event_id        uuid not null,
	event_type      text not null,
	position        text not null,
	payload         bytea not null,
	state           text not null, -- pending, succeeded, failed
	attempts        int not null default 0,
	due_at          timestamptz not null,
	give_up_at      timestamptz not null,
	claim           uuid,
	last_status     int not null default 0,
	last_latency_ms bigint not null default 0,
	last_error      text not null default '',
	last_attempt_at timestamptz,
	delivered_at    timestamptz,
	created_at      timestamptz not null,
	unique (endpoint_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (endpoint_id, due_at) where state = 'pending';
create index webhook_deliveries_log on webhook_deliveries (endpoint_id, seq);

create table webhook_attempts (
	delivery_id uuid not null references webhook_deliveries (id),
	attempt     int not null,
	at          timestamptz not null,
	status      int not null,
	latency_ms  bigint not null,
	error       text not null,
	primary key (delivery_id, attempt)
);

-- +goose Down
drop table webhook_attempts;
drop table webhook_deliveries;
drop table webhook_endpoints;

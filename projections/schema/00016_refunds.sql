-- The refund process (issue 14: money). The refunds projection records the
-- confirmed orders (tickets issued and voided), the cancelled shows, and
-- every decided refund; the refund process (commands.Refunder) polls them:
-- it refunds the orders of cancelled shows and settles each decided refund
-- (the provider's refund by its key, the return of its units). What the
-- process settled it records apart, in refund_settlements
-- (infra/postgres/migrations/00018), which a rebuild leaves alone.

-- +goose Up
create table pm_refund_orders (
	order_id       uuid primary key,
	show_id        uuid not null,
	tickets        int not null,
	voided         int not null default 0,
	show_cancelled boolean not null default false
);
create index pm_refund_orders_show on pm_refund_orders (show_id);
create index pm_refund_orders_todo on pm_refund_orders (show_id) where show_cancelled and voided < tickets;

create table pm_refund_shows (
	show_id      uuid primary key,
	cancelled_at timestamptz not null
);

create table pm_refunds (
	refund_id    text primary key,
	order_id     uuid not null,
	show_id      uuid not null,
	amount_cents bigint not null,
	restock      boolean not null,
	recorded_at  timestamptz not null,
	-- trivial: nothing to settle (no money, no units move)
	trivial      boolean not null
);
create index pm_refunds_pending on pm_refunds (recorded_at) where not trivial;
create index pm_refunds_order on pm_refunds (order_id);
create index pm_refunds_show on pm_refunds (show_id);

-- +goose Down
drop table pm_refunds;
drop table pm_refund_shows;
drop table pm_refund_orders;

-- The refund process's own record of the refunds it settled (issue 14:
-- money): the provider's refund made under the refund's key and its units
-- returned. It is not a read model: a rebuild of the refunds projection
-- leaves it alone, so settled refunds are not settled again. A failed
-- attempt counts in attempts with its error, for `projections status`.

-- +goose Up
create table refund_settlements (
	refund_id  text primary key,
	settled    boolean not null,
	attempts   int not null,
	last_error text not null,
	updated_at timestamptz not null default now()
);

-- +goose Down
drop table refund_settlements;

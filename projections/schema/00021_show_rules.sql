-- Projection "shows", issue 14: the rules of a show. One row per ticket
-- type, quota and voucher (kind, code), and one for the per-order limits
-- (kind 'order_limits', code ''). spec is the rule as its event set it;
-- used counts the units taken of a quota, or the uses of a voucher, by
-- open holds and sales.

-- +goose Up
create table rm_show_rules (
    show_id  uuid not null references rm_shows (id) on delete cascade,
    kind     text not null, -- ticket_type | quota | voucher | order_limits
    code     text not null,
    seq      bigint not null, -- position of the event that created the row
    spec     json not null,
    used     bigint not null default 0,
    disabled boolean not null default false,
    primary key (show_id, kind, code)
);

-- +goose Down
drop table rm_show_rules;

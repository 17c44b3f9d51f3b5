-- Refunds in the orders read model (issue 14: money): a refunded ticket is
-- void from voided_at; an order whose tickets are all void is refunded.

-- +goose Up
alter table rm_tickets add column voided_at timestamptz;
alter table rm_orders add column refunded_cents bigint not null default 0;

-- +goose Down
alter table rm_orders drop column refunded_cents;
alter table rm_tickets drop column voided_at;

-- Read-model columns hold every value the domain accepts. A show has at
-- most 200,000 seats and units (domain.MaxUnitsPerShow), so what it has at
-- a time, and what it ever sells, fits int: capacity, held, sold, orders
-- confirmed, seat numbers, the units of one order. But the units and
-- orders that expired or were cancelled, and the holds placed in an hour,
-- add up over a show's whole life without a bound (a buyer may hold and let
-- go again and again): those become bigint, like the money columns.

-- +goose Up
alter table rm_sales
    alter column expired type bigint,
    alter column cancelled type bigint,
    alter column orders_expired type bigint,
    alter column orders_cancelled type bigint;
alter table rm_analytics_hours
    alter column holds type bigint,
    alter column units_held type bigint,
    alter column expired type bigint,
    alter column cancelled type bigint;

-- +goose Down
alter table rm_analytics_hours
    alter column holds type int,
    alter column units_held type int,
    alter column expired type int,
    alter column cancelled type int;
alter table rm_sales
    alter column expired type int,
    alter column cancelled type int,
    alter column orders_expired type int,
    alter column orders_cancelled type int;

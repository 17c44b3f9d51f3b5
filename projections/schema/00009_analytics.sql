-- Projection "analytics": the sales of each show, hour by hour, for its
-- organizer and analysts. Hours are UTC and come from the times the events
-- carry, never from the clock of the projecting process, so a replay builds
-- the same rows. Only order streams feed it, each in its own order, so it
-- does not depend on the order of events across streams (Kafka keeps only
-- the order of each stream).

-- +goose Up
-- What happened in each hour: orders held (placed), paid, cancelled and
-- expired, with units and revenue.
create table rm_analytics_hours (
    show_id       uuid        not null,
    hour          timestamptz not null, -- the start of the hour, UTC
    holds         int         not null default 0,
    units_held    int         not null default 0,
    confirmed     int         not null default 0,
    units_sold    int         not null default 0,
    revenue_cents bigint      not null default 0,
    expired       int         not null default 0,
    cancelled     int         not null default 0,
    primary key (show_id, hour)
);

-- Every order placed, when it was held and what became of it: conversion
-- and the median time from hold to payment are computed from it, by the
-- hour of the hold.
create table rm_analytics_orders (
    order_id    uuid        primary key,
    show_id     uuid        not null,
    held_hour   timestamptz not null,
    held_at     timestamptz not null,
    units       int         not null,
    total_cents bigint      not null,
    status      text        not null, -- held | confirmed | cancelled | expired
    pay_ms      bigint                -- hold to payment in milliseconds, once paid
);
create index rm_analytics_orders_show on rm_analytics_orders (show_id, held_hour);

-- +goose Down
drop table rm_analytics_orders;
drop table rm_analytics_hours;

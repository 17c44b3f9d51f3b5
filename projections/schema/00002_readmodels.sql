-- Read models maintained by the projectors (package projections) and the
-- checkpoints that say how far each projection got in the global log.
--
-- Positions in the global log are uint64 in Go and bigint here. bigint holds
-- every position below 2^63; the adapter refuses a larger one instead of
-- wrapping around. PostgreSQL positions are a bigint sequence and
-- EventStoreDB positions are byte offsets in its transaction log, so 2^63 is
-- out of reach in practice.
--
-- seq columns hold the commit position of the event that created the row; the
-- lists page by (seq, id), which is stable: a row never moves.

-- +goose Up
create table projection_checkpoints (
    name        text primary key,
    commit_pos  bigint not null,
    prepare_pos bigint not null,
    updated_at  timestamptz not null default now()
);

-- Projection "shows".
create table rm_shows (
    id           uuid primary key,
    seq          bigint not null,
    organizer_id uuid not null,
    title        text not null,
    venue        text not null,
    starts_at    timestamptz not null,
    status       text not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null
);
create index rm_shows_public on rm_shows (seq, id) where status <> 'draft';
create index rm_shows_organizer on rm_shows (organizer_id, seq, id);

create table rm_sections (
    show_id     uuid not null references rm_shows (id) on delete cascade,
    name        text not null,
    idx         int not null, -- creation order
    kind        text not null, -- general_admission | seated
    price_cents bigint not null,
    capacity    int not null,
    held        int not null default 0,
    sold        int not null default 0,
    primary key (show_id, name)
);

create table rm_seats (
    show_id   uuid not null,
    section   text not null,
    row_label text not null,
    row_idx   int not null, -- creation order within the section
    seat      int not null,
    state     text not null, -- available | held | sold
    order_id  uuid,
    primary key (show_id, section, row_label, seat),
    foreign key (show_id, section) references rm_sections (show_id, name) on delete cascade
);

-- Projection "orders".
create table rm_orders (
    id          uuid primary key,
    seq         bigint not null,
    show_id     uuid not null,
    buyer_id    uuid not null,
    status      text not null, -- held | confirmed | cancelled | expired
    items       jsonb not null,
    seats       jsonb not null,
    total_cents bigint not null,
    expires_at  timestamptz not null,
    payment_id  text not null default '',
    created_at  timestamptz not null,
    updated_at  timestamptz not null
);
create index rm_orders_buyer on rm_orders (buyer_id, seq, id);

create table rm_tickets (
    id            uuid primary key,
    order_id      uuid not null,
    show_id       uuid not null,
    buyer_id      uuid not null,
    seq           bigint not null, -- position of the OrderConfirmed event
    idx           int not null,    -- order within the order
    section       text not null,
    row_label     text not null default '',
    seat          int not null default 0,
    code          text not null,
    checked_in_at timestamptz
);
create index rm_tickets_order on rm_tickets (order_id, idx);
create index rm_tickets_buyer on rm_tickets (buyer_id, seq, order_id, idx);

-- Projection "sales".
create table rm_sales (
    show_id          uuid primary key,
    organizer_id     uuid not null,
    sold             int not null default 0,
    revenue_cents    bigint not null default 0,
    held             int not null default 0,
    expired          int not null default 0,
    cancelled        int not null default 0,
    orders_confirmed int not null default 0,
    orders_expired   int not null default 0,
    orders_cancelled int not null default 0
);

-- The orders the sales projection has seen placed, so that it counts each
-- order's outcome once and ignores expiry tombstones of orders never placed.
create table rm_sales_orders (
    order_id uuid primary key,
    show_id  uuid not null,
    status   text not null
);

-- Projection "holds": the open holds and when they run out.
create table hold_deadlines (
    order_id   uuid primary key,
    show_id    uuid not null,
    expires_at timestamptz not null
);
create index hold_deadlines_due on hold_deadlines (expires_at, order_id);

-- +goose Down
drop table hold_deadlines;
drop table rm_sales_orders;
drop table rm_sales;
drop table rm_tickets;
drop table rm_orders;
drop table rm_seats;
drop table rm_sections;
drop table rm_shows;
drop table projection_checkpoints;

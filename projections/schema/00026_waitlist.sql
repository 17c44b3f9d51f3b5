-- Projection "waitlist" (issue 14): the buyers waiting in the sections of
-- each show, and the offers they were made. An offer is open while its hold
-- is in hold_deadlines (projection "holds"); the rows of offers stay.

-- +goose Up
create table rm_waitlist (
    show_id   uuid        not null,
    section   text        not null,
    buyer_id  uuid        not null,
    quantity  int         not null,
    joined_at timestamptz not null,
    seq       bigint      not null, -- the join's commit position: the order of the list
    primary key (show_id, section, buyer_id)
);
create index rm_waitlist_buyer on rm_waitlist (buyer_id);
create index rm_waitlist_order on rm_waitlist (show_id, section, seq);

create table rm_waitlist_offers (
    order_id   uuid        primary key,
    show_id    uuid        not null,
    section    text        not null,
    buyer_id   uuid        not null,
    quantity   int         not null,
    offered_at timestamptz not null,
    expires_at timestamptz not null
);
create index rm_waitlist_offers_buyer on rm_waitlist_offers (buyer_id);

-- +goose Down
drop table rm_waitlist_offers;
drop table rm_waitlist;

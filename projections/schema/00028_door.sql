-- Issue 14 (door): ticket codes are derived, never stored; tickets change
-- hands; the organizer lists a show's attendees and orders.
--
-- code is kept (not null, empty) for the old rows' shape, and emptied: a
-- code is computed by the read API from the ticket's id and generation.
-- holder_id is who holds the ticket now (null: its buyer); former_holders
-- are those who transferred it away, who still see it, transferred out.

-- +goose Up
update rm_tickets set code = '' where code <> '';
alter table rm_tickets add column holder_id uuid;
alter table rm_tickets add column generation int not null default 0;
alter table rm_tickets add column former_holders uuid[] not null default '{}';
create index rm_tickets_holder on rm_tickets (holder_id, seq, order_id, idx) where holder_id is not null;
create index rm_tickets_former on rm_tickets using gin (former_holders);
create index rm_tickets_show on rm_tickets (show_id, seq, order_id, idx);
create index rm_orders_show on rm_orders (show_id, seq, id);

-- +goose Down
drop index rm_orders_show;
drop index rm_tickets_show;
drop index rm_tickets_former;
drop index rm_tickets_holder;
alter table rm_tickets drop column former_holders;
alter table rm_tickets drop column generation;
alter table rm_tickets drop column holder_id;

-- Projection "waitlist" (issue 14): the ticket type a buyer waits for, and
-- that of an offer ('' for the section's price).

-- +goose Up
alter table rm_waitlist add column ticket_type text not null default '';
alter table rm_waitlist_offers add column ticket_type text not null default '';

-- +goose Down
alter table rm_waitlist_offers drop column ticket_type;
alter table rm_waitlist drop column ticket_type;

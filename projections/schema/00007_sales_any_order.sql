-- Through Kafka, an order's events may reach the sales projection before its
-- show's creation (only one stream's order is kept). Sales rows are therefore
-- created by whichever event comes first; the organizer is filled in by the
-- show's creation.

-- +goose Up
alter table rm_sales alter column organizer_id drop not null;

-- +goose Down
delete from rm_sales where organizer_id is null;
alter table rm_sales alter column organizer_id set not null;

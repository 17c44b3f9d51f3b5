-- Projection "waitlist" (issue 14): the units of each general-admission
-- section set aside for its waiting list (show.waitlist_reserved), which
-- the shows' availability leaves out.

-- +goose Up
create table rm_waitlist_reserved (
    show_id  uuid   not null,
    section  text   not null,
    reserved bigint not null,
    primary key (show_id, section)
);

-- +goose Down
drop table rm_waitlist_reserved;

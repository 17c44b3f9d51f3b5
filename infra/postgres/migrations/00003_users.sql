-- +goose Up
create table users (
    id            uuid        primary key,
    email         text        not null,
    password_hash text        not null,
    role          text        not null,
    created_at    timestamptz not null
);
-- Emails are unique regardless of case.
create unique index users_email_key on users (lower(email));

-- +goose Down
drop table users;

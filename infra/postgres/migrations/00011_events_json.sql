-- Event data and metadata, and snapshots, as json rather than jsonb: the
-- store only ever hands the bytes back to Go, and json's input function
-- validates without building jsonb's binary tree, which was half the cost of
-- an append. It also keeps the exact bytes that were written. Queries
-- can still use ->> on json.

-- +goose Up
alter table events alter column data type json using data::json,
                   alter column metadata type json using metadata::json;
alter table snapshots alter column data type json using data::json;

-- +goose Down
alter table snapshots alter column data type jsonb using data::jsonb;
alter table events alter column data type jsonb using data::jsonb,
                   alter column metadata type jsonb using metadata::jsonb;

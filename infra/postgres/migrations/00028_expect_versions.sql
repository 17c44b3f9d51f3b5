-- An append whose streams are all expected at a version (an exact one, or
-- none yet) is written in one round trip: BEGIN, the insert that moves
-- log_head and writes the events, this check, the notification and COMMIT
-- travel together (infra/postgres/store.go, writeGroupTx). The unique key on
-- (stream_id, version) refuses a stream that is past its expected version;
-- this refuses one that is behind it (an If-Match from the future), so that
-- no version is skipped. Either failure rolls the group back, and the store
-- decides it again from what the log holds.

-- +goose Up
-- +goose StatementBegin
create function expect_versions(streams text[], versions bigint[]) returns void
language plpgsql as $$
begin
    if exists (select 1 from unnest(streams, versions) as x(stream_id, version)
               where not exists (select 1 from events e
                                 where e.stream_id = x.stream_id and e.version = x.version)) then
        raise exception 'a stream is behind the version its append expects'
            using errcode = 'TK409';
    end if;
end
$$;
-- +goose StatementEnd

-- +goose Down
drop function expect_versions(text[], bigint[]);

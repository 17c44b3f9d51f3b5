package postgres

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
)

// The versions projections fed by Kafka applied of each stream are one row
// per stream, projection_stream_versions (migration 00027): a jsonb object
// of projection name → version. A delivered batch reads and writes a row per
// stream however many projections it feeds, where it read and wrote a row
// per projection and stream. Writers take rows in stream_id order, so that
// transactions of different projections sharing streams queue on each
// other's rows instead of deadlocking.

// readStreamVersions is the query of the rows of the streams $1, to scan
// with scanStreamVersions.
const readStreamVersions = `select stream_id, versions from projection_stream_versions where stream_id = any($1)`

// readStreamVersionsOf is the query of projection $1's versions of the
// streams $2: stream_id and version, for the streams it applied.
const readStreamVersionsOf = `select stream_id, (versions->>$1)::bigint from projection_stream_versions
	where stream_id = any($2) and versions->>$1 is not null`

// scanStreamVersions scans the rows of readStreamVersions into versions,
// by the index of each projection's name in index; names not in index are
// left out.
func scanStreamVersions(rows pgx.Rows, index map[string]int, versions []map[string]int64) error {
	var stream string
	var vs map[string]int64
	_, err := pgx.ForEachRow(rows, []any{&stream, &vs}, func() error {
		for name, v := range vs {
			if k, ok := index[name]; ok {
				versions[k][stream] = v
			}
		}
		clear(vs)
		return nil
	})
	return err
}

// streamVersionWrites gathers the versions a transaction sets: per stream,
// the projections' new versions, merged into its row by queue.
type streamVersionWrites map[string]map[string]int64

// set records that projection name applied stream up to version.
func (w streamVersionWrites) set(name, stream string, version int64) {
	if w[stream] == nil {
		w[stream] = map[string]int64{}
	}
	w[stream][name] = version
}

// queue queues the statement that merges the versions into their rows, in
// stream_id order; nothing when there are none.
func (w streamVersionWrites) queue(b *pgx.Batch) {
	if len(w) == 0 {
		return
	}
	streams := slices.Sorted(maps.Keys(w))
	objs := make([]string, len(streams))
	for i, s := range streams {
		obj, _ := json.Marshal(w[s]) // a map of strings to numbers always encodes
		objs[i] = string(obj)
	}
	b.Queue(`insert into projection_stream_versions as p (stream_id, versions)
		select s, v::jsonb from unnest($1::text[], $2::text[]) with ordinality as u(s, v, i) order by i
		on conflict (stream_id) do update set versions = p.versions || excluded.versions`, streams, objs)
}

// forgetStreamVersions removes projection's versions of every stream, in
// stream_id order, and the rows left empty.
func forgetStreamVersions(ctx context.Context, tx pgx.Tx, projection string) error {
	if _, err := tx.Exec(ctx, `update projection_stream_versions p set versions = p.versions - $1::text
		from (select stream_id from projection_stream_versions where versions->>$1 is not null order by stream_id for update) l
		where p.stream_id = l.stream_id`, projection); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `delete from projection_stream_versions where versions = '{}'::jsonb`)
	return err
}

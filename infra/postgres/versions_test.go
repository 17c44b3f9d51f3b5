package postgres_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// TestStore_StreamVersions checks that an append reads each of its streams'
// versions with one index entry, however long the stream: the read runs
// under log_head's lock, so its cost is every append's.
func TestStore_StreamVersions(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s, err := postgres.NewStore(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	const perStream = 300
	want := map[string]int64{}
	for _, stream := range []string{"a", "b", "c"} {
		expected := domain.NoStream
		for range perStream / 100 {
			expected = mustAppend(t, s, stream, expected, newEvents(100)).Version
		}
		want[stream] = expected
	}
	// The appends decide on those versions: a stale one conflicts.
	var conflict *commands.ConflictError
	if _, err := s.Append(t.Context(), "b", want["b"]-1, newEvents(1)); !errors.As(err, &conflict) || conflict.Actual != want["b"] {
		t.Fatalf("append at a stale version: %v, want a conflict at %d", err, want["b"])
	}
	mustAppend(t, s, "b", want["b"], newEvents(1))
	want["b"]++

	streams := []string{"a", "b", "c", "never-written"}
	got := map[string]int64{}
	rows, err := pool.Query(t.Context(), postgres.StreamVersionsSQL, streams)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("versions = %v, want %v (no row for a stream without events)", got, want)
	}
	for stream, v := range want {
		if got[stream] != v {
			t.Errorf("version of %s = %d, want %d", stream, got[stream], v)
		}
	}

	var plan []struct {
		Plan planNode `json:"Plan"`
	}
	var out []byte
	if err := pool.QueryRow(t.Context(), "explain (analyze, format json) "+postgres.StreamVersionsSQL, streams).Scan(&out); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("plan %s: %v", out, err)
	}
	if n := plan[0].Plan.rowsOf("events"); n > float64(len(streams)) {
		t.Errorf("the versions of %d streams of %d events read %.0f rows of events, want at most one a stream:\n%s", len(streams), perStream, n, out)
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	Relation string     `json:"Relation Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Plans    []planNode `json:"Plans"`
}

// rowsOf is how many rows the scans of relation under n returned in all.
func (n planNode) rowsOf(relation string) float64 {
	total := 0.0
	if n.Relation == relation {
		total = n.Rows * n.Loops
	}
	for _, c := range n.Plans {
		total += c.rowsOf(relation)
	}
	return total
}

package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// BenchmarkExportEvents exports a log of EXPORT_EVENTS events (default one
// million; a quarter of them holds, an eighth in the version 1 shape that is
// upcast) as JSON lines and as CSV, end to end from PostgreSQL:
//
//	go test -run '^$' -bench ExportEvents -benchtime 1x ./cmd/ticketing
func BenchmarkExportEvents(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("EXPORT_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	pool := pgtest.Connect(b, pgtest.SchemaURL(b))
	ctx := context.Background()
	// 1,000 streams; event g is version g/1000+1 of stream g%1000.
	if _, err := pool.Exec(ctx, `insert into events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		select g, gen_random_uuid(), 'show-' || (g % 1000), g / 1000 + 1,
			case when g % 4 = 0 then 'show.seats_held' when g % 4 = 1 then 'order.placed' when g % 4 = 2 then 'order.confirmed' else 'show.seats_sold' end,
			jsonb_build_object('show_id', gen_random_uuid(), 'order_id', gen_random_uuid(), 'buyer_id', gen_random_uuid(),
				'items', jsonb_build_array(jsonb_build_object('section', 'floor', 'quantity', 2, 'unit_price_cents', 500)),
				'total_cents', 1000, 'held_at', '2026-11-21T19:10:00Z', 'expires_at', '2026-11-21T19:25:00Z')
				|| case when g % 8 = 0 then '{}'::jsonb else '{"hold_ttl_seconds": 900}'::jsonb end,
			case when g % 8 = 4 then '{"user_id": "u", "schema_version": 2}'::jsonb else '{"user_id": "u"}'::jsonb end,
			'2026-11-21T19:00:00Z'::timestamptz + g * interval '1 millisecond'
		from generate_series(1, $1::bigint) g`, n); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "update log_head set position = $1", n); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "vacuum analyze events"); err != nil {
		b.Fatal(err)
	}
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	for _, format := range []string{formatJSONL, formatCSV} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				got, err := exportEvents(ctx, store, registry, eventsOptions{Format: format}, io.Discard, nil)
				if err != nil || got != int64(n) {
					b.Fatalf("exported %d events, want %d: %v", got, n, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

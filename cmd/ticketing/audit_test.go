package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// auditLog runs the auditor over the whole log of store, as `ticketing
// audit` does, and fails the test on any violation, printing the report.
// It returns the report.
func auditLog(t testing.TB, store commands.EventStore) domain.AuditReport {
	t.Helper()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	r, err := auditEvents(context.Background(), exporterOf(store), registry, 0, nil)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if r.Events == 0 {
		t.Fatal("audit: the log is empty")
	}
	if r.ViolationCount() > 0 {
		var out strings.Builder
		_ = printAudit(&out, r, 0)
		t.Errorf("audit: %d violations in the log:\n%s", r.ViolationCount(), out.String())
	}
	return r
}

// audit runs auditLog over the server's event store.
func (s *server) audit() domain.AuditReport {
	s.t.Helper()
	return auditLog(s.t, s.e.store)
}

// appendEvents appends events to a stream directly through the store,
// bypassing the domain's decisions.
func appendEvents(t *testing.T, store commands.EventStore, stream string, events ...domain.Event) {
	t.Helper()
	data, err := domain.Encode(events, uuid.New, domain.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(context.Background(), stream, domain.AnyVersion, data); err != nil {
		t.Fatal(err)
	}
}

// auditedShow appends a show on sale with a hold of seat A/1 of its
// balcony and the hold's order, and returns the show's id and the hold.
func auditedShow(t *testing.T, store commands.EventStore) (uuid.UUID, domain.SeatsHeld) {
	t.Helper()
	show, now := uuid.New(), time.Now().UTC()
	appendEvents(t, store, domain.ShowStream(show),
		domain.ShowCreated{ShowID: show, OrganizerID: uuid.New(), Title: "Gig", Venue: "Hall", MaxUnitsPerBuyer: 4, StartsAt: now.Add(time.Hour), CreatedAt: now,
			Sections: []domain.SectionSpec{{Name: "balcony", PriceCents: 900, Rows: []domain.RowSpec{{Label: "A", Seats: 2}}}}},
		domain.ShowPublished{ShowID: show, At: now})
	hold := domain.SeatsHeld{ShowID: show, OrderID: uuid.New(), BuyerID: uuid.New(), TotalCents: 900, HeldAt: now, ExpiresAt: now.Add(time.Minute),
		HoldTTLSeconds: 60, Seats: []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "balcony", Row: "A", Seat: 1}, PriceCents: 900}}}
	appendEvents(t, store, domain.ShowStream(show), hold)
	appendEvents(t, store, domain.OrderStream(hold.OrderID), placed(hold))
	return show, hold
}

// auditFile runs `ticketing audit` with args into a file and returns its
// error and what it wrote.
func auditFile(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.out")
	err := run(context.Background(), append([]string{"audit", "--database-url", db, "--output", path}, args...), env{}.get, quiet, nil)
	out, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(out), err
}

func TestAuditCmd(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	store, _ := historyStore(t, db)
	show, hold := auditedShow(t, store)

	out, err := auditFile(t, db)
	if err != nil {
		t.Fatalf("a clean log: %v\n%s", err, out)
	}
	for _, want := range []string{"audited 4 events of 2 streams", "1 shows, 1 orders, 2 seats", "no violations",
		"per-buyer limit  1        0", "open holds: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report of a clean log lacks %q:\n%s", want, out)
		}
	}

	// Another order holds the same seat, bypassing the show's decision.
	twice := hold
	twice.OrderID = uuid.New()
	appendEvents(t, store, domain.ShowStream(show), twice)
	out, err = auditFile(t, db)
	if !errors.Is(err, errViolations) {
		t.Fatalf("a seat held twice: err = %v, want errViolations\n%s", err, out)
	}
	for _, want := range []string{
		"violations: 1",
		"seats: seat balcony/A/1 is already held by order " + hold.OrderID.String(),
		"position 3 " + domain.ShowStream(show) + "@3 show.seats_held",
		"position 5 " + domain.ShowStream(show) + "@4 show.seats_held",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}

	path := filepath.Join(t.TempDir(), "audit.json")
	if err := run(context.Background(), []string{"audit", "--database-url", db, "--json", "-o", path}, env{}.get, quiet, nil); !errors.Is(err, errViolations) {
		t.Fatalf("--json -o: err = %v, want errViolations", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out = string(data)
	if !strings.Contains(out, `"check": "seats"`) || !strings.Contains(out, `"stream": "`+domain.ShowStream(show)+`"`) ||
		!strings.Contains(out, `"position": "5"`) {
		t.Errorf("--json: report:\n%s", out)
	}
}

// The binary exits with status 1 on a log that breaks an invariant, and
// prints the violation.
func TestAuditCmd_ExitStatus(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	store, _ := historyStore(t, db)
	_, hold := auditedShow(t, store)
	paid := domain.OrderConfirmed{OrderID: hold.OrderID, ShowID: hold.ShowID, BuyerID: hold.BuyerID, PaymentID: "ch_1", TotalCents: 1,
		Tickets: []domain.Ticket{{ID: uuid.New(), Section: "balcony", Row: "A", Seat: 1, Code: "c"}}, ConfirmedAt: hold.HeldAt}
	appendEvents(t, store, domain.OrderStream(hold.OrderID), paid)

	stdout, stderr, code := runBinary(t, "audit", "--database-url", db)
	if code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := "payments: paid 1, the hold's total is 900"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if want := "position 5 " + domain.OrderStream(hold.OrderID) + "@2 order.confirmed"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
}

// auditEvents reads any store, the in-memory one too, and its report
// covers every event.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	store := memory.NewStore()
	show, hold := auditedShow(t, store)
	r := auditLog(t, store)
	if r.Events != 4 || r.Shows != 1 || r.Orders != 1 {
		t.Errorf("report: %d events, %d shows, %d orders; want 4, 1, 1", r.Events, r.Shows, r.Orders)
	}
	appendEvents(t, store, domain.ShowStream(show), domain.SeatsReleased{ShowID: show, OrderID: hold.OrderID, Reason: domain.ReleaseCancelled,
		Seats: hold.Seats, At: hold.HeldAt})
	var tb failureTB
	tb.TB = t
	r = auditLog(&tb, store)
	if r.ViolationCount() != 1 || r.Violations[0].Check != domain.AuditHolds {
		t.Errorf("a release as cancelled of a held order: %+v", r.Violations)
	}
	if !strings.Contains(tb.errors, "violations: 1") || !strings.Contains(tb.errors, "show.seats_released") {
		t.Errorf("auditLog did not fail the test with the violation: %q", tb.errors)
	}
}

// failureTB records the errors a test helper reports instead of failing.
type failureTB struct {
	testing.TB
	errors string
}

func (f *failureTB) Errorf(format string, args ...any) { f.errors += fmt.Sprintf(format, args...) }

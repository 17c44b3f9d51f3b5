package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// tickets is a TicketLocator over the tickets the tests paid for.
type tickets struct {
	mu sync.Mutex
	by map[uuid.UUID][2]uuid.UUID // ticket → order, show
}

func (l *tickets) TicketOrder(_ context.Context, id uuid.UUID) (uuid.UUID, uuid.UUID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os, ok := l.by[id]; ok {
		return os[0], os[1], nil
	}
	return uuid.Nil, uuid.Nil, domain.ErrTicketNotFound
}

// buyersByEmail is a Buyers of fixed emails.
type buyersByEmail map[string]uuid.UUID

func (b buyersByEmail) BuyerByEmail(_ context.Context, email string) (uuid.UUID, error) {
	if id, ok := b[email]; ok {
		return id, nil
	}
	return uuid.Nil, commands.ErrUserNotFound
}

// doorFixture is a fixture whose handler locates tickets, and a second
// handler on the same store: another engine.
func doorFixture(t *testing.T, friend uuid.UUID) (*fixture, *commands.Handler, *tickets) {
	t.Helper()
	loc := &tickets{by: map[uuid.UUID][2]uuid.UUID{}}
	wire := func(h *commands.Handler) { h.Tickets, h.Buyers = loc, buyersByEmail{"friend@example.test": friend} }
	f := newFixture(t, wire)
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	other := &commands.Handler{Store: f.store, Registry: reg, Payments: f.pay, Now: f.clock.Now, HoldTTL: ttl}
	wire(other)
	return f, commands.NewHandler(other), loc
}

// paid holds and pays q floor units; it returns the tickets with codes.
func (f *fixture) paid(t *testing.T, loc *tickets, q int) []domain.Ticket {
	t.Helper()
	o := f.hold(t, q)
	res, err := f.h.PayOrder(context.Background(), f.buyer, o.ID, "tok_visa")
	if err != nil {
		t.Fatal(err)
	}
	loc.mu.Lock()
	defer loc.mu.Unlock()
	for _, tk := range res.Tickets {
		loc.by[tk.ID] = [2]uuid.UUID{o.ID, f.show}
	}
	return res.Tickets
}

func TestHandler_RecordScans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	friend := uuid.New()
	f, _, loc := doorFixture(t, friend)
	tk := f.paid(t, loc, 3)
	if _, err := f.h.TransferTicket(ctx, f.buyer, tk[2].ID, "friend@example.test"); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	at := func(d time.Duration) time.Time { return now.Add(-time.Hour + d) }
	scans := []commands.Scan{
		{Code: tk[0].Code, Nonce: "a", ScannedAt: at(2)},
		{Code: tk[0].Code, Nonce: "b", ScannedAt: at(1)},
		{Code: tk[1].Code, Nonce: "c", ScannedAt: at(0)},
		{Code: tk[1].Code, Nonce: "c", ScannedAt: at(0)},
		{Code: tk[2].Code, Nonce: "d", ScannedAt: at(0)}, // transferred since
		{Code: "GARBAGE", Nonce: "e", ScannedAt: at(0)},
	}
	out, err := f.h.RecordScans(ctx, f.org, f.show, scans)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(out))
	for i, o := range out {
		got[i] = o.Outcome
	}
	if want := "[duplicate checked_in checked_in duplicate transferred unknown_code]"; fmt.Sprint(got) != want {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	for name, c := range map[string]struct {
		actor domain.Actor
		scans []commands.Scan
		err   error
	}{
		"a buyer":      {f.buyer, scans, commands.ErrForbidden},
		"no scans":     {f.org, nil, &domain.ValidationError{}},
		"a bad nonce":  {f.org, []commands.Scan{{Code: tk[0].Code, Nonce: "a b", ScannedAt: now}}, &domain.ValidationError{}},
		"in an hour":   {f.org, []commands.Scan{{Code: tk[0].Code, Nonce: "x", ScannedAt: now.Add(time.Hour)}}, &domain.ValidationError{}},
		"no scan time": {f.org, []commands.Scan{{Code: tk[0].Code, Nonce: "x"}}, &domain.ValidationError{}},
		"no code":      {f.org, []commands.Scan{{Nonce: "x", ScannedAt: now}}, &domain.ValidationError{}},
		"too many":     {f.org, make([]commands.Scan, commands.MaxScansPerBatch+1), &domain.ValidationError{}},
	} {
		_, err := f.h.RecordScans(ctx, c.actor, f.show, c.scans)
		var inval *domain.ValidationError
		if errors.As(c.err, &inval) && !errors.As(err, &inval) || !errors.As(c.err, &inval) && !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", name, err, c.err)
		}
	}
	f.audit(t)
}

// Two handlers on one store (two engines) check the same codes in at once,
// online and in offline batches: each ticket once.
func TestHandler_CheckInCodeRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, other, loc := doorFixture(t, uuid.New())
	tk := f.paid(t, loc, 4)
	var mu sync.Mutex
	admitted := map[uuid.UUID]int{}
	var wg sync.WaitGroup
	for _, ticket := range tk {
		for i, h := range []*commands.Handler{f.h, other, f.h, other, f.h, other} {
			wg.Go(func() {
				ok := false
				if i%3 == 2 {
					out, err := h.RecordScans(ctx, f.org, f.show, []commands.Scan{{Code: ticket.Code, Nonce: fmt.Sprint("n", i), ScannedAt: f.clock.Now()}})
					ok = err == nil && out[0].Outcome == commands.OutcomeCheckedIn
				} else {
					_, err := h.CheckInCode(ctx, f.org, f.show, ticket.Code)
					ok = err == nil
					if err != nil && !errors.Is(err, domain.ErrAlreadyCheckedIn) {
						t.Errorf("check-in: %v", err)
					}
				}
				if ok {
					mu.Lock()
					admitted[ticket.ID]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, ticket := range tk {
		if admitted[ticket.ID] != 1 {
			t.Errorf("ticket %s admitted %d times", ticket.ID, admitted[ticket.ID])
		}
	}
	f.audit(t)
}

func TestHandler_TransferTicket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	friend := uuid.New()
	f, _, loc := doorFixture(t, friend)
	tk := f.paid(t, loc, 1)
	if _, err := f.h.TransferTicket(ctx, f.buyer, tk[0].ID, "nobody@example.test"); !errors.As(err, new(*domain.ValidationError)) {
		t.Errorf("to nobody: %v", err)
	}
	res, err := f.h.TransferTicket(ctx, f.buyer, tk[0].ID, "friend@example.test")
	if err != nil || res.Generation != 1 || res.ToUserID != friend {
		t.Fatalf("transfer: %+v, %v", res, err)
	}
	if _, err := f.h.CheckInCode(ctx, f.org, f.show, tk[0].Code); !isRefusal(err, domain.RefusedTransferred) {
		t.Errorf("old code: %v", err)
	}
	fresh := f.h.TicketCodes().Code(tk[0].ID, 1)
	adm, err := f.h.CheckInCode(ctx, f.org, f.show, fresh)
	if err != nil || adm.Ticket.ID != tk[0].ID || adm.Ticket.Section != "floor" {
		t.Fatalf("new code: %+v, %v", adm, err)
	}
	f.audit(t)
}

func isRefusal(err error, reason string) bool {
	var r *domain.CheckInRefusedError
	return errors.As(err, &r) && r.Reason == reason
}

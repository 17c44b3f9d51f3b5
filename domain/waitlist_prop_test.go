package domain

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// waitlistWorld drives a show and its orders with random decisions and
// records what they raise, for the Auditor.
type waitlistWorld struct {
	t      *testing.T
	rng    *rand.Rand
	show   *Show
	orders map[uuid.UUID]*Order // open holds' orders
	log    *auditLog
	now    time.Time
	seen   int // show changes logged
}

// flush logs the show's new changes, each offer's hold followed by its
// order as the engine appends them.
func (w *waitlistWorld) flush() {
	changes := w.show.Changes()
	for _, e := range changes[w.seen:] {
		w.log.wl(w.show.ID, e)
		if h, ok := e.(SeatsHeld); ok {
			o := NewOrder()
			if err := o.Place(h); err != nil {
				w.t.Fatal(err)
			}
			w.log.add(o.Changes()...)
			w.orders[h.OrderID] = o
		}
	}
	w.seen = len(changes)
}

func (w *waitlistWorld) anyOrder() (uuid.UUID, *Order, bool) {
	for id, o := range w.orders {
		if w.rng.IntN(2) == 0 || len(w.orders) == 1 {
			return id, o, true
		}
	}
	return uuid.Nil, nil, false
}

// end ends a random open hold: paid, cancelled or expired, the order
// first, then the show.
func (w *waitlistWorld) end() {
	id, o, ok := w.anyOrder()
	if !ok {
		return
	}
	before := len(o.Changes())
	how := []int{0, 1, 1, 2, 2, 2, 2, 2}[w.rng.IntN(8)] // sales are for good: few of them
	if !w.now.Before(o.ExpiresAt) {
		how = 2 // too late to pay or cancel
	}
	switch how {
	case 0:
		n := 0
		if err := o.Confirm("ch_"+id.String(), w.now, func() uuid.UUID { n++; return uuid.New() }); err != nil {
			w.t.Fatal(err)
		}
		w.log.add(o.Changes()[before:]...)
		if err := w.show.Sell(id, w.now); err != nil {
			w.t.Fatal(err)
		}
	case 1:
		if err := o.Cancel(w.now); err != nil {
			w.t.Fatal(err)
		}
		w.log.add(o.Changes()[before:]...)
		w.show.Release(id, ReleaseCancelled, w.now)
	default:
		if w.now.Before(o.ExpiresAt) {
			w.now = o.ExpiresAt
		}
		if err := o.Expire(id, w.show.ID, w.now); err != nil {
			w.t.Fatal(err)
		}
		w.log.add(o.Changes()[before:]...)
		w.show.Release(id, ReleaseExpired, w.now)
	}
	delete(w.orders, id)
}

// step makes one random decision; refusals are part of the game.
func (w *waitlistWorld) step(buyers []uuid.UUID) {
	w.now = w.now.Add(time.Duration(w.rng.IntN(60)) * time.Second)
	buyer := buyers[w.rng.IntN(len(buyers))]
	q := 1 + w.rng.IntN(3)
	var err error
	switch r := w.rng.IntN(10); {
	case r < 3:
		err = w.show.Hold(HoldRequest{OrderID: uuid.New(), BuyerID: buyer, Items: []ItemRequest{{Section: "floor", Quantity: q}}}, w.now, 10*time.Minute)
	case r < 6:
		err = w.show.JoinWaitlist(buyer, "floor", q, w.now)
	case r < 7:
		err = w.show.LeaveWaitlist(buyer, "floor", w.now)
	default:
		w.end()
	}
	if err != nil && !errors.Is(err, ErrSoldOut) && !errors.Is(err, ErrNotSoldOut) && !errors.Is(err, ErrAlreadyWaiting) &&
		!errors.Is(err, ErrNotWaiting) && !errors.Is(err, ErrBuyerLimit) {
		w.t.Fatalf("step: %v", err)
	}
	w.flush()
	if a := w.show.Available("floor"); a < 0 {
		w.t.Fatalf("available %d", a)
	}
}

// Random decisions on one show — holds, sales, cancellations, expiries,
// joins and leaves — make a log the Auditor finds clean, with offers in
// it.
func TestShow_WaitlistRandomDecisionsAudit(t *testing.T) {
	t.Parallel()
	kinds := map[string]int{}
	for seed := range uint64(20) {
		f := newAuditFixture()
		w := &waitlistWorld{t: t, rng: rand.New(rand.NewPCG(seed, 14)), show: NewShow(), orders: map[uuid.UUID]*Order{}, log: newAuditLog(t), now: auditT0}
		w.show.Load(f.created(), 2)
		w.log.add(f.created()...)
		buyers := make([]uuid.UUID, 6)
		for i := range buyers {
			buyers[i] = uuid.New()
		}
		for range 300 {
			w.step(buyers)
		}
		r := audit(t, w.log)
		for _, v := range r.Violations {
			t.Errorf("seed %d: %v", seed, v)
		}
		offers := 0
		for _, rec := range w.log.recs {
			if rec.Type == (WaitlistOffered{}).EventType() {
				offers++
			}
			kinds[rec.Type]++
		}
		if offers == 0 {
			t.Errorf("seed %d: no offers in %d events", seed, len(w.log.recs))
		}
	}
	for _, e := range []Event{WaitlistReserved{}, WaitlistLeft{}, SeatsSold{}} {
		if kinds[e.EventType()] == 0 {
			t.Errorf("no %s in any log: the test does not cover it", e.EventType())
		}
	}
}

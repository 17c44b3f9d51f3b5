package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
)

// Concurrent holds on one show are batched; whether the store writes the
// holds and the orders in one append or one stream at a time, every accepted
// hold has its order placed, every event carries the metadata of its own
// request, and nothing is oversold.
func TestHandler_BatchedHolds(t *testing.T) {
	t.Parallel()
	onEachStoreShape(t, func(t *testing.T, f *fixture, h *commands.Handler) {
		reg := domain.NewRegistry()
		domain.RegisterEvents(reg)
		type placed struct {
			res   commands.OrderResult
			buyer uuid.UUID
			corr  string
		}
		var mu sync.Mutex
		var got []placed
		soldOut := 0
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
				corr := uuid.NewString()
				ctx := commands.WithMetadata(context.Background(), domain.Metadata{CorrelationID: corr, UserID: buyer.UserID.String()})
				res, err := h.PlaceOrder(ctx, buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1 + i%2}}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					got = append(got, placed{res, buyer.UserID, corr})
				case errors.Is(err, domain.ErrSoldOut):
					soldOut++
				default:
					t.Errorf("PlaceOrder: %v", err)
				}
			})
		}
		wg.Wait()
		units := 0
		for _, p := range got {
			recs, err := f.store.ReadStream(context.Background(), domain.OrderStream(p.res.ID), 1)
			if err != nil || len(recs) != 1 || recs[0].Type != "order.placed" {
				t.Fatalf("order %s: %v %v", p.res.ID, recs, err)
			}
			if p.res.Position.Less(recs[0].Position) {
				t.Errorf("order %s answered position %s, before its order.placed at %s", p.res.ID, p.res.Position, recs[0].Position)
			}
			o := f.orderState(t, p.res.ID)
			if o.BuyerID != p.buyer {
				t.Errorf("order %s buyer %s, want %s", p.res.ID, o.BuyerID, p.buyer)
			}
			units += o.Units()
			assertCorrelation(t, recs[0], p.corr)
		}
		show, err := f.store.ReadStream(context.Background(), domain.ShowStream(f.show), 1)
		if err != nil {
			t.Fatal(err)
		}
		byOrder := map[uuid.UUID]domain.RecordedEvent{}
		for _, rec := range show {
			if rec.Type == "show.seats_held" {
				e, err := reg.DecodeRecorded(rec)
				if err != nil {
					t.Fatal(err)
				}
				byOrder[e.(domain.SeatsHeld).OrderID] = rec
			}
		}
		for _, p := range got {
			rec, ok := byOrder[p.res.ID]
			if !ok {
				t.Fatalf("no hold for order %s", p.res.ID)
			}
			assertCorrelation(t, rec, p.corr)
		}
		if units != 10 || len(byOrder) != len(got) || soldOut == 0 {
			t.Fatalf("%d units in %d orders, %d holds, %d sold out; want all 10 units held", units, len(got), len(byOrder), soldOut)
		}
	})
}

func assertCorrelation(t *testing.T, rec domain.RecordedEvent, want string) {
	t.Helper()
	var md domain.Metadata
	if err := json.Unmarshal(rec.Metadata, &md); err != nil {
		t.Fatal(err)
	}
	if md.CorrelationID != want {
		t.Errorf("%s %s@%d: correlation %q, want its request's %q", rec.Type, rec.StreamID, rec.Version, md.CorrelationID, want)
	}
}

// A payment checks the show as its stream has it now, even when another
// process cancelled it after this one cached the show: no charge is made.
func TestHandler_PayOrderForAShowCancelledElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	held := f.hold(t, 2)
	other := f.handler(f.store)
	if _, err := other.CancelShow(ctx, f.org, f.show); err != nil {
		t.Fatal(err)
	}
	_, err := f.h.PayOrder(ctx, f.buyer, held.ID, "tok_visa")
	if !errors.Is(err, domain.ErrShowCancelled) {
		t.Fatalf("PayOrder = %v, want ErrShowCancelled", err)
	}
	if n := len(f.pay.Charges()); n != 0 {
		t.Fatalf("%d charges, want none", n)
	}
}

// Appended is told of every hold and placed order a batch appended, with
// the id it was stored under, as the stored event decodes.
func TestHandler_Appended(t *testing.T) {
	t.Parallel()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	var mu sync.Mutex
	told := map[uuid.UUID]domain.Event{}
	f := newFixture(t, func(h *commands.Handler) {
		h.Appended = func(ids []uuid.UUID, events []domain.Event) {
			mu.Lock()
			defer mu.Unlock()
			for i, id := range ids {
				told[id] = events[i]
			}
		}
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
			if _, err := f.h.PlaceOrder(context.Background(), buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	recs, err := f.store.ReadAll(context.Background(), domain.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range recs {
		if rec.Type != "show.seats_held" && rec.Type != "order.placed" {
			continue
		}
		n++
		e, ok := told[rec.ID]
		if !ok {
			t.Fatalf("%s %s@%d not told", rec.Type, rec.StreamID, rec.Version)
		}
		stored, err := reg.DecodeRecorded(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(stored, e) {
			t.Fatalf("told %#v, stored %#v", e, stored)
		}
	}
	if n != 16 || len(told) != 16 {
		t.Fatalf("%d holds and orders stored, %d told; want 16", n, len(told))
	}
}

// showReads counts the reads of one stream a handler makes: another
// process's show appears to it only through them.
type showReads struct {
	*memory.Store
	stream string
	n      atomic.Int32
}

func (s *showReads) ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error) {
	if stream == s.stream {
		s.n.Add(1)
	}
	return s.Store.ReadStream(ctx, stream, from)
}

// Holds are decided on the show as this process knows it: holds that are
// all accepted read nothing of the show's stream (their append's expected
// version proves nothing else was written). A refusal is checked against
// the stream: a release by another process is seen, and the hold it let
// in accepted; a hold accepted on a show another process sold out since
// conflicts, is decided again, and is refused. Nothing is oversold.
func TestHandler_HoldsOnTheShowInMemory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	reads := &showReads{Store: f.store, stream: domain.ShowStream(f.show)}
	h, other := f.handler(reads, manyRetries), f.handler(f.store, manyRetries)
	hold := func(h *commands.Handler, buyer domain.Actor, n int) (commands.OrderResult, error) {
		return h.PlaceOrder(ctx, buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: n}}})
	}
	buyer := func() domain.Actor { return domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer} }
	if _, err := hold(h, buyer(), 1); err != nil { // the show is loaded
		t.Fatal(err)
	}
	reads.n.Store(0)
	var mine []commands.OrderResult
	var mineBy []domain.Actor
	for range 6 {
		b := buyer()
		res, err := hold(h, b, 1)
		if err != nil {
			t.Fatal(err)
		}
		mine, mineBy = append(mine, res), append(mineBy, b)
	}
	if n := reads.n.Load(); n != 0 {
		t.Errorf("six holds accepted on the show in memory read its stream %d times, want 0", n)
	}
	// 7 of 10 held; another process holds the last 3: this one's show
	// still has 3 left.
	if _, err := hold(other, buyer(), 3); err != nil {
		t.Fatal(err)
	}
	// Accepted on the show in memory, the append conflicts; decided again
	// on the stream, the hold is refused.
	if _, err := hold(h, buyer(), 2); !errors.Is(err, domain.ErrSoldOut) {
		t.Errorf("a hold on a show another process sold out: %v, want ErrSoldOut", err)
	}
	// Sold out in this process's show too; another process releases one
	// of this process's orders: the refusal is checked, and the hold let
	// in.
	if _, err := other.CancelOrder(ctx, mineBy[0], mine[0].ID); err != nil {
		t.Fatal(err)
	}
	reads.n.Store(0)
	if _, err := hold(h, buyer(), 1); err != nil {
		t.Errorf("a hold after another process released a unit: %v, want it accepted", err)
	}
	if n := reads.n.Load(); n == 0 {
		t.Error("a hold decided on a sold-out show in memory did not read the show's stream")
	}
	if _, err := hold(h, buyer(), 1); !errors.Is(err, domain.ErrSoldOut) {
		t.Errorf("a hold on a sold-out show: %v, want ErrSoldOut", err)
	}
	s, err := f.h.LoadShow(ctx, f.show)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Available("floor"); got != 0 {
		t.Errorf("floor has %d available, want 0 (10 held, none oversold)", got)
	}
}

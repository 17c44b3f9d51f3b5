package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// errNoHistory says that a stream had no event at the point asked for;
// errNoStream, which is one, that it has none at all.
var (
	errNoHistory = errors.New("no events")
	errNoStream  = fmt.Errorf("%w at all: no such stream", errNoHistory)
)

// asOf is how much of a stream's history to replay: all of it (the zero
// asOf), up to a version, or up to a moment (events recorded then or before).
type asOf struct {
	Version int64
	At      time.Time
}

// cut returns the events of recs, a stream's events in order, that a
// replays.
func (a asOf) cut(recs []domain.RecordedEvent) []domain.RecordedEvent {
	n := 0
	for n < len(recs) && (a.Version <= 0 || recs[n].Version <= a.Version) && (a.At.IsZero() || !recs[n].RecordedAt.After(a.At)) {
		n++
	}
	return recs[:n]
}

// history is a stream's events up to some point, decoded in their current
// shape.
type history struct {
	events []domain.Event
	last   domain.RecordedEvent // the last event replayed
}

// readHistory reads a stream's events as of a.
func readHistory(ctx context.Context, store commands.EventStore, registry *domain.Registry, stream string, a asOf) (history, error) {
	recs, err := store.ReadStream(ctx, stream, 1)
	if err != nil {
		return history{}, err
	}
	if len(recs) == 0 {
		return history{}, fmt.Errorf("stream %s: %w", stream, errNoStream)
	}
	if n := len(recs); a.Version > recs[n-1].Version {
		return history{}, fmt.Errorf("stream %s: --version %d is past its end: the stream has %d events", stream, a.Version, recs[n-1].Version)
	}
	recs = a.cut(recs)
	if len(recs) == 0 {
		return history{}, fmt.Errorf("stream %s: %w %s", stream, errNoHistory, a)
	}
	events, err := registry.DecodeAll(recs)
	if err != nil {
		return history{}, err
	}
	return history{events: events, last: recs[len(recs)-1]}, nil
}

func (a asOf) String() string {
	switch {
	case a.Version > 0:
		return fmt.Sprintf("up to version %d", a.Version)
	case !a.At.IsZero():
		return "recorded at or before " + a.At.Format(time.RFC3339Nano)
	}
	return "at all"
}

// stateOptions are the flags of `ticketing state`.
type stateOptions struct {
	Stream *streamRef // nil until given
	AsOf   asOf
}

// stateCommand is `ticketing state`: an aggregate's state at a version or
// a moment, rebuilt from its events, as JSON.
type stateCommand struct {
	o      stateOptions
	output string
}

// Flags attaches --stream, --version, --at and --output.
func (x *stateCommand) Flags(fs *flag.FlagSet, _ *Config) {
	fs.Func("stream", "the aggregate (required): a show or order id, show-<id> or order-<id>", streamFlag(&x.o.Stream))
	fs.Int64Var(&x.o.AsOf.Version, "version", 0, "the state after this version of the stream (at most its last)")
	fs.Func("at", "the state at this moment: after the events recorded then or before ("+timeForms+")", timeFlag(&x.o.AsOf.At, time.Now))
	fs.StringVar(&x.output, "output", "", "write to this file instead of stdout")
}

// Run rebuilds the state and writes it.
func (x *stateCommand) Run(ctx context.Context, s *session) error {
	o := x.o
	switch {
	case len(s.Args) > 0:
		return s.noArgs()
	case o.Stream == nil:
		return errors.New("state: --stream is required")
	case o.AsOf.Version < 0:
		return errors.New("state: --version must be positive")
	case o.AsOf.Version > 0 && !o.AsOf.At.IsZero():
		return errors.New("state: give --version or --at, not both")
	}
	return withStore(ctx, s, x.output, func(store eventStore, registry *domain.Registry, out io.Writer) error {
		st, err := aggregateState(ctx, store, registry, o)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		return writeIndented(out, st)
	})
}

// withStore opens the session's event store and runs fn with it, a
// registry of the domain's events and the output (a file, or stdout).
func withStore(ctx context.Context, s *session, output string, fn func(eventStore, *domain.Registry, io.Writer) error) error {
	store, registry, err := s.Store(ctx)
	if err != nil {
		return err
	}
	return withOutput(output, func(out io.Writer) error { return fn(store, registry, out) })
}

// writeIndented writes v as indented JSON.
func writeIndented(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}

// stateView is what `ticketing state` prints.
type stateView struct {
	Stream     string      `json:"stream"`
	Version    int64       `json:"version"`  // of the last event replayed
	Position   string      `json:"position"` // of the last event replayed
	RecordedAt time.Time   `json:"recorded_at"`
	Show       *showState  `json:"show,omitempty"`
	Order      *orderState `json:"order,omitempty"`
}

// aggregateState rebuilds the aggregate of o.Stream as of o.AsOf.
func aggregateState(ctx context.Context, store commands.EventStore, registry *domain.Registry, o stateOptions) (stateView, error) {
	ref, err := o.Stream.resolve(ctx, store)
	if err != nil {
		return stateView{}, err
	}
	stream := ref.String()
	h, err := readHistory(ctx, store, registry, stream, o.AsOf)
	if errors.Is(err, errNoStream) && o.Stream.Kind == "" {
		return stateView{}, fmt.Errorf("no show or order has the id %s", ref.ID)
	}
	if err != nil {
		return stateView{}, err
	}
	v := stateView{Stream: stream, Version: h.last.Version, Position: h.last.Position.String(), RecordedAt: h.last.RecordedAt.UTC()}
	if ref.Kind == "show" {
		s := domain.NewShow()
		s.Load(h.events, h.last.Version)
		v.Show = newShowState(s)
	} else {
		ord := domain.NewOrder()
		ord.Load(h.events, h.last.Version)
		v.Order = newOrderState(ord)
	}
	return v, nil
}

// showState is a show's state as analysts see it.
type showState struct {
	ID          uuid.UUID         `json:"id"`
	OrganizerID uuid.UUID         `json:"organizer_id"`
	Title       string            `json:"title"`
	Venue       string            `json:"venue"`
	StartsAt    time.Time         `json:"starts_at"`
	Status      domain.ShowStatus `json:"status"`
	Sections    []sectionState    `json:"sections"`
	Holds       []holdState       `json:"holds"`
	SoldOrders  []uuid.UUID       `json:"sold_orders"`
}

// sectionState is a section's prices and counters; for a seated section,
// also its held and sold seats.
type sectionState struct {
	Name       string           `json:"name"`
	Seated     bool             `json:"seated"`
	PriceCents int64            `json:"price_cents"`
	Capacity   int              `json:"capacity"`
	Available  int              `json:"available"`
	Held       int              `json:"held"`
	Sold       int              `json:"sold"`
	Taken      []takenSeat      `json:"taken,omitempty"`
	Rows       []domain.RowSpec `json:"rows,omitempty"`
	// Reserved is the units set aside for the waiting list: not available.
	Reserved int `json:"reserved,omitempty"`
}

// takenSeat is a held or sold seat.
type takenSeat struct {
	Row   string    `json:"row"`
	Seat  int       `json:"seat"`
	Order uuid.UUID `json:"order_id"`
	Sold  bool      `json:"sold"`
}

// holdState is an open hold.
type holdState struct {
	OrderID        uuid.UUID         `json:"order_id"`
	BuyerID        uuid.UUID         `json:"buyer_id"`
	Items          []domain.HeldItem `json:"items,omitempty"`
	Seats          []domain.HeldSeat `json:"seats,omitempty"`
	TotalCents     int64             `json:"total_cents"`
	HeldAt         time.Time         `json:"held_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	HoldTTLSeconds int64             `json:"hold_ttl_seconds"`
}

func newShowState(s *domain.Show) *showState {
	snap := s.Snapshot()
	v := &showState{ID: snap.ID, OrganizerID: snap.OrganizerID, Title: snap.Title, Venue: snap.Venue, StartsAt: snap.StartsAt,
		Status: snap.Status, Sections: []sectionState{}, Holds: []holdState{}, SoldOrders: []uuid.UUID{}}
	for _, sec := range snap.Sections {
		ss := sectionState{Name: sec.Spec.Name, Seated: sec.Spec.Seated(), PriceCents: sec.Price, Capacity: sec.Spec.Units(),
			Held: sec.Held, Sold: sec.Sold, Rows: sec.Spec.Rows}
		for _, t := range sec.Taken {
			ss.Taken = append(ss.Taken, takenSeat{Row: t.Seat.Row, Seat: t.Seat.Seat, Order: t.Order, Sold: t.Sold})
			if t.Sold {
				ss.Sold++
			} else {
				ss.Held++
			}
		}
		ss.Reserved = s.Waitlist(sec.Spec.Name).Reserved
		ss.Available = ss.Capacity - ss.Held - ss.Sold - ss.Reserved
		v.Sections = append(v.Sections, ss)
	}
	for _, h := range snap.Holds {
		v.Holds = append(v.Holds, holdState{OrderID: h.OrderID, BuyerID: h.BuyerID, Items: h.Items, Seats: h.Seats, TotalCents: h.TotalCents,
			HeldAt: h.HeldAt, ExpiresAt: h.ExpiresAt, HoldTTLSeconds: int64(h.TTL / time.Second)})
	}
	v.SoldOrders = append(v.SoldOrders, snap.Sold...)
	return v
}

// orderState is an order's state as analysts see it.
type orderState struct {
	ID         uuid.UUID               `json:"id"`
	ShowID     uuid.UUID               `json:"show_id"`
	BuyerID    uuid.UUID               `json:"buyer_id"`
	Status     domain.OrderStatus      `json:"status"`
	Items      []domain.HeldItem       `json:"items,omitempty"`
	Seats      []domain.HeldSeat       `json:"seats,omitempty"`
	TotalCents int64                   `json:"total_cents"`
	ExpiresAt  *time.Time              `json:"expires_at,omitempty"`
	PaymentID  string                  `json:"payment_id,omitempty"`
	Tickets    []domain.Ticket         `json:"tickets"`
	CheckedIn  map[uuid.UUID]time.Time `json:"checked_in"`
}

func newOrderState(o *domain.Order) *orderState {
	v := &orderState{ID: o.ID, ShowID: o.ShowID, BuyerID: o.BuyerID, Status: o.Status, Items: o.Items, Seats: o.Seats,
		TotalCents: o.TotalCents, PaymentID: o.PaymentID, Tickets: o.Tickets, CheckedIn: o.CheckedIn}
	if !o.ExpiresAt.IsZero() {
		v.ExpiresAt = &o.ExpiresAt
	}
	if v.Tickets == nil {
		v.Tickets = []domain.Ticket{}
	}
	return v
}

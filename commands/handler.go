package commands

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Authorization errors.
var (
	// ErrForbidden: the actor may not do this to this resource.
	ErrForbidden = errors.New("forbidden")
	// ErrTooContended: the retries ran out while other writers kept winning.
	ErrTooContended = errors.New("too much contention, try again")
)

// Result tells a client where its write landed.
type Result struct {
	ID       uuid.UUID
	Version  int64
	Position domain.Position
}

// Stats counts what the handlers did, for benchmarks and metrics.
type Stats struct {
	Conflicts   atomic.Int64 // appends that found a stream moved on
	Retries     atomic.Int64 // decisions redone after a conflict
	HoldBatches atomic.Int64 // appends of batched holds
	Holds       atomic.Int64 // holds in those appends
}

// Handler runs the commands. One method per command: each loads the
// aggregate, decides, and appends with the expected version, retrying a
// bounded number of times on a conflict.
type Handler struct {
	Store    EventStore
	Registry *domain.Registry
	Payments PaymentProvider
	Tickets  TicketLocator
	// Shows, if set, counts live shows for the organizers' show quota.
	Shows LiveShows
	Log   *slog.Logger

	// Now is the clock; NewID makes ids; NewCode makes ticket codes.
	Now     func() time.Time
	NewID   func() uuid.UUID
	NewCode func() string
	// HoldTTL is how long a hold lasts unpaid.
	HoldTTL time.Duration
	// MaxRetries bounds the reload-and-retry loop on conflicts.
	MaxRetries int
	// Snapshots, if set, keeps show snapshots every SnapshotEvery events.
	Snapshots     SnapshotStore
	SnapshotEvery int
	// Stats counts conflicts, retries and batches.
	Stats Stats
	// Appended, if set, is told of the holds and placed orders a batch
	// appended, with their event ids, as they were before encoding: the
	// projections of this process need not decode them again. Only event
	// types whose JSON decodes back to the same value go to it.
	Appended func(ids []uuid.UUID, events []domain.Event)

	events  *eventLog
	shows   *showRepository
	locks   streamLocks
	holds   batcher[*holdReq]
	settles batcher[*settleReq]
}

// NewHandler returns a handler with production defaults for what is unset.
func NewHandler(h *Handler) *Handler {
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.NewID == nil {
		h.NewID = NewID
	}
	if h.NewCode == nil {
		h.NewCode = NewTicketCode
	}
	if h.HoldTTL == 0 {
		h.HoldTTL = 15 * time.Minute
	}
	if h.MaxRetries == 0 {
		h.MaxRetries = 30
	}
	if h.SnapshotEvery == 0 {
		h.SnapshotEvery = DefaultSnapshotEvery
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
	h.events = &eventLog{store: h.Store, registry: h.Registry, newID: h.NewID, log: h.Log}
	h.shows = newShowRepository(h.events, h.Snapshots, h.SnapshotEvery, &h.Stats)
	return h
}

// LoadShow returns a show as it stands: from its latest snapshot and the
// events after it.
func (h *Handler) LoadShow(ctx context.Context, id uuid.UUID) (*domain.Show, error) {
	return h.shows.load(ctx, id)
}

// NewID returns a new time-ordered id (a UUIDv7).
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// NewTicketCode returns 128 random bits in base32: unguessable.
func NewTicketCode() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

type ctxKey struct{}

// WithMetadata attaches the metadata recorded with every event the context's
// commands append.
func WithMetadata(ctx context.Context, md domain.Metadata) context.Context {
	return context.WithValue(ctx, ctxKey{}, md)
}

func metadataOf(ctx context.Context) domain.Metadata {
	md, _ := ctx.Value(ctxKey{}).(domain.Metadata)
	return md
}

// lock serializes the writers of one stream inside this process, so that
// they queue instead of conflicting; other processes are still kept apart by
// the expected version.
func (h *Handler) lock(stream string) (unlock func()) { return h.locks.lock(stream) }

// streamLocks is a mutex per stream, kept only while someone holds or
// waits for it.
type streamLocks struct {
	mu    sync.Mutex
	locks map[string]*streamLock
}

type streamLock struct {
	sync.Mutex
	users int
}

func (l *streamLocks) lock(stream string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*streamLock{}
	}
	sl := l.locks[stream]
	if sl == nil {
		sl = &streamLock{}
		l.locks[stream] = sl
	}
	sl.users++
	l.mu.Unlock()
	sl.Lock()
	return func() {
		sl.Unlock()
		l.mu.Lock()
		if sl.users--; sl.users == 0 {
			delete(l.locks, stream)
		}
		l.mu.Unlock()
	}
}

// retry runs attempt until it does not fail with ErrConflict, at most
// MaxRetries times, with a short jittered pause between tries.
func (h *Handler) retry(ctx context.Context, attempt func() error) error {
	for i := 0; ; i++ {
		err := attempt()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if i+1 >= h.MaxRetries {
			return fmt.Errorf("%w: %w", ErrTooContended, err)
		}
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(i+1, 10))))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// showOwnedBy loads a show that actor may manage.
func (h *Handler) showOwnedBy(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.Show, error) {
	s, err := h.shows.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.Exists() {
		return nil, domain.ErrShowNotFound
	}
	if !domain.CanManage(actor, s) {
		return nil, ErrForbidden
	}
	return s, nil
}

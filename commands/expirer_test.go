package commands_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
)

// fakeHolds lists the holds it was given, and the time it was asked at.
type fakeHolds struct {
	due   []commands.HoldRef
	asked time.Time
}

func (f *fakeHolds) DueHolds(_ context.Context, now time.Time, limit int) ([]commands.HoldRef, error) {
	f.asked = now
	return f.due[:min(limit, len(f.due))], nil
}

// fakeSettler records the orders it is given per show; it fails for show
// failing.
type fakeSettler struct {
	calls   [][]uuid.UUID // the show first
	failing uuid.UUID
}

func (f *fakeSettler) SettleMany(_ context.Context, show uuid.UUID, orders []uuid.UUID) (int, error) {
	f.calls = append(f.calls, append([]uuid.UUID{show}, orders...))
	if show == f.failing {
		return 0, errors.New("settling failed")
	}
	return len(orders), nil
}

func TestExpirer_Tick(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	o := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	holds := &fakeHolds{due: []commands.HoldRef{{ShowID: a, OrderID: o[0]}, {ShowID: b, OrderID: o[1]}, {ShowID: a, OrderID: o[2]}, {ShowID: c, OrderID: o[3]}}}
	settle := &fakeSettler{failing: c}
	e := commands.NewExpirer(settle, holds, func() time.Time { return now }, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))

	if got, want := e.Tick(t.Context()), 3; got != want {
		t.Errorf("Tick = %d, want %d (the failing show's hold not counted)", got, want)
	}
	if !holds.asked.Equal(now) {
		t.Errorf("DueHolds asked at %v, want the clock's %v", holds.asked, now)
	}
	want := [][]uuid.UUID{{a, o[0], o[2]}, {b, o[1]}, {c, o[3]}}
	if !slices.EqualFunc(settle.calls, want, slices.Equal[[]uuid.UUID]) {
		t.Errorf("SettleMany calls = %v, want %v (each show once, in the order first due)", settle.calls, want)
	}
}

func TestNewExpirer_refusesNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewExpirer without a settler did not panic")
		}
	}()
	commands.NewExpirer(nil, &fakeHolds{}, time.Now, time.Second, slog.Default())
}

package domain

import (
	"slices"
	"time"
)

// EventFilter selects events of the global log for analysts: exports and
// the admin history. The zero filter selects every event.
type EventFilter struct {
	// After selects the events after this position.
	After Position
	// Stream selects one stream's events; empty selects every stream.
	Stream string
	// Types selects events of these stored type names; empty selects all.
	Types []string
	// Since and Until select the events recorded at or after Since and at
	// or before Until; a zero time leaves that side open.
	Since, Until time.Time
	// Limit is the most events to select; zero or less selects all.
	Limit int
}

// Match reports whether f selects rec, Limit aside.
func (f EventFilter) Match(rec RecordedEvent) bool {
	switch {
	case !f.After.Less(rec.Position):
		return false
	case f.Stream != "" && rec.StreamID != f.Stream:
		return false
	case len(f.Types) > 0 && !slices.Contains(f.Types, rec.Type):
		return false
	case !f.Since.IsZero() && rec.RecordedAt.Before(f.Since):
		return false
	case !f.Until.IsZero() && rec.RecordedAt.After(f.Until):
		return false
	}
	return true
}

// StartAt makes f select the events at or after p: f.After becomes the
// position just before p.
func (f *EventFilter) StartAt(p Position) {
	switch {
	case p.Prepare > 0:
		f.After = Position{Commit: p.Commit, Prepare: p.Prepare - 1}
	case p.Commit > 0:
		f.After = Position{Commit: p.Commit - 1, Prepare: ^uint64(0)}
	default:
		f.After = Start
	}
}

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// streamKinds are the aggregates whose streams the analysts' commands
// name, each with the function that names its stream.
var streamKinds = []struct {
	kind   string
	stream func(uuid.UUID) string
}{
	{"show", domain.ShowStream},
	{"order", domain.OrderStream},
}

// streamRef is an aggregate's stream as `state`, `inventory` and `events
// --stream` take it: a bare id (of a show or an order), or a stream name as
// `events` prints it (show-<id>, order-<id>).
type streamRef struct {
	Kind string // "show" or "order"; empty for a bare id
	ID   uuid.UUID
}

// parseStreamRef parses the forms streamRef takes. Surrounding blanks and
// double quotes (as copied from JSON) are ignored, and any form of UUID
// uuid.Parse takes is written canonically.
func parseStreamRef(s string) (streamRef, error) {
	t := strings.Trim(strings.TrimSpace(s), `"`)
	if id, err := uuid.Parse(t); err == nil {
		return streamRef{ID: id}, nil
	}
	for _, k := range streamKinds {
		if rest, ok := strings.CutPrefix(t, k.kind+"-"); ok {
			id, err := uuid.Parse(rest)
			if err != nil {
				return streamRef{}, fmt.Errorf("%q: %q is not a UUID (want %s-<uuid>)", s, rest, k.kind)
			}
			return streamRef{Kind: k.kind, ID: id}, nil
		}
	}
	return streamRef{}, fmt.Errorf("%q: want a show or order id, show-<uuid> or order-<uuid>", s)
}

// String is the stream's name, or the bare id.
func (r streamRef) String() string {
	for _, k := range streamKinds {
		if k.kind == r.Kind {
			return k.stream(r.ID)
		}
	}
	return r.ID.String()
}

// resolve returns the name of the stream r names in store: for a bare id,
// the order's stream if it has events (an order stream is short), else the
// show's. A UUID names one aggregate at most.
func (r streamRef) resolve(ctx context.Context, store commands.EventStore) (streamRef, error) {
	if r.Kind != "" {
		return r, nil
	}
	recs, err := store.ReadStream(ctx, domain.OrderStream(r.ID), 1)
	if err != nil {
		return r, err
	}
	if len(recs) > 0 {
		return streamRef{Kind: "order", ID: r.ID}, nil
	}
	return streamRef{Kind: "show", ID: r.ID}, nil
}

// streamFlag sets *ref from a flag in one of streamRef's forms.
func streamFlag(ref **streamRef) func(string) error {
	return func(s string) error {
		r, err := parseStreamRef(s)
		if err != nil {
			return err
		}
		*ref = &r
		return nil
	}
}

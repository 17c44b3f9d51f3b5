package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
)

func TestParseStreamRef(t *testing.T) {
	t.Parallel()
	id := "0195f000-0000-7000-8000-00000000a001"
	cases := []struct {
		in, want string // want: the ref's String, or the error's text
		kind     string
		fails    bool
	}{
		{in: id, want: id},
		{in: "show-" + id, want: "show-" + id, kind: "show"},
		{in: "order-" + id, want: "order-" + id, kind: "order"},
		{in: strings.ToUpper(id), want: id},
		{in: "show-" + strings.ToUpper(id), want: "show-" + id, kind: "show"},
		{in: ` "order-` + id + `" `, want: "order-" + id, kind: "order"},
		{in: "urn:uuid:" + id, want: id},
		{in: "", want: "want a show or order id", fails: true},
		{in: "show-none", want: `"none" is not a UUID (want show-<uuid>)`, fails: true},
		{in: "order-" + id[:30], want: "is not a UUID (want order-<uuid>)", fails: true},
		{in: "ticket-" + id, want: "want a show or order id, show-<uuid> or order-<uuid>", fails: true},
		{in: "show_" + id, want: "want a show or order id", fails: true},
		{in: "shows-" + id, want: "want a show or order id", fails: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseStreamRef(c.in)
			switch {
			case c.fails && err == nil:
				t.Errorf("parseStreamRef(%q) = %v, want an error", c.in, got)
			case c.fails && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q, want it to say %q", err, c.want)
			case !c.fails && (err != nil || got.String() != c.want || got.Kind != c.kind):
				t.Errorf("parseStreamRef(%q) = %q (kind %q), %v; want %q (kind %q)", c.in, got, got.Kind, err, c.want, c.kind)
			}
		})
	}
}

func TestStreamRef_Resolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.NewStore()
	show, order, none := uuid.New(), uuid.New(), uuid.New()
	for _, stream := range []string{domain.ShowStream(show), domain.OrderStream(order)} {
		if _, err := store.Append(ctx, stream, domain.NoStream, []domain.EventData{{ID: uuid.New(), Type: "x.happened", Data: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
	}
	for in, want := range map[string]string{
		show.String():                  domain.ShowStream(show),
		order.String():                 domain.OrderStream(order),
		none.String():                  domain.ShowStream(none), // nothing to find: the show's, which has no events
		domain.ShowStream(order):       domain.ShowStream(order),
		domain.OrderStream(show):       domain.OrderStream(show),
		domain.OrderStream(order):      domain.OrderStream(order),
		"  " + domain.ShowStream(show): domain.ShowStream(show),
	} {
		ref, err := parseStreamRef(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ref.resolve(ctx, store)
		if err != nil || got.String() != want {
			t.Errorf("resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

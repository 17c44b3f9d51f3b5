package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// inventoryReaders bounds the order streams read at once.
const inventoryReaders = 8

// inventoryCommand is `ticketing inventory`: a show's seat states at a
// moment, from the show's stream and the streams of the orders it held for.
type inventoryCommand struct {
	show   *streamRef // nil until given
	at     time.Time
	output string
}

// Flags attaches --show, --at and --output.
func (x *inventoryCommand) Flags(fs *flag.FlagSet, _ *Config) {
	fs.Func("show", "the show (required): its id, or show-<id>", streamFlag(&x.show))
	fs.Func("at", "the moment (required): "+timeForms, timeFlag(&x.at, time.Now))
	fs.StringVar(&x.output, "output", "", "write to this file instead of stdout")
}

// Run rebuilds the inventory and writes it.
func (x *inventoryCommand) Run(ctx context.Context, s *session) error {
	switch {
	case len(s.Args) > 0:
		return s.noArgs()
	case x.show == nil:
		return errors.New("inventory: --show is required")
	case x.show.Kind != "" && x.show.Kind != "show":
		return fmt.Errorf("inventory: --show: %s is not a show's stream; want the show's id or show-<id>", x.show)
	case x.at.IsZero():
		return errors.New("inventory: --at is required")
	}
	return withStore(ctx, s, x.output, func(store eventStore, registry *domain.Registry, out io.Writer) error {
		inv, err := inventoryAt(ctx, store, registry, x.show.ID, x.at)
		if err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		return writeIndented(out, inv)
	})
}

// inventoryAt rebuilds the show as it was at the moment at, and the orders
// of its holds open then, each from the events of its stream recorded until
// then, and returns the inventory they tell of.
func inventoryAt(ctx context.Context, store commands.EventStore, registry *domain.Registry, id uuid.UUID, at time.Time) (domain.Inventory, error) {
	asOf := asOf{At: at}
	h, err := readHistory(ctx, store, registry, domain.ShowStream(id), asOf)
	if errors.Is(err, errNoHistory) {
		return domain.Inventory{}, fmt.Errorf("show %s did not exist at %s: %w", id, at.Format(time.RFC3339Nano), domain.ErrShowNotFound)
	}
	if err != nil {
		return domain.Inventory{}, err
	}
	show := domain.NewShow()
	show.Load(h.events, h.last.Version)

	holds := show.Holds()
	orders := make(map[uuid.UUID]*domain.Order, len(holds))
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	slots := make(chan struct{}, inventoryReaders)
	for _, hold := range holds {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			oh, err := readHistory(ctx, store, registry, domain.OrderStream(hold.OrderID), asOf)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errNoHistory): // not placed yet
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			default:
				o := domain.NewOrder()
				o.Load(oh.events, oh.last.Version)
				orders[hold.OrderID] = o
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return domain.Inventory{}, firstErr
	}
	return domain.InventoryAt(show, orders, at), nil
}

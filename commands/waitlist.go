package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// WaitlistView is what a show's waiting lists tell an actor: a buyer sees
// their own places and open offers; the show's manager sees every
// section's list length too.
type WaitlistView struct {
	ShowID   uuid.UUID
	Places   []WaitlistPlace
	Offers   []domain.WaitlistOffer
	Sections []WaitlistLength // only for the show's manager
}

// WaitlistJoin is what a buyer joins: a section, or a ticket type (and
// its section), for Quantity units.
type WaitlistJoin struct {
	Section    string
	TicketType string // "": the section's price
	Quantity   int
}

// JoinedWaitlist is a join's outcome: the section joined, and the append.
type JoinedWaitlist struct {
	Result
	WaitlistJoin
}

// WaitlistPlace is a buyer's place in a section's list (1: next in line).
type WaitlistPlace struct {
	Section  string
	Place    int
	Quantity int
	Entry    domain.WaitlistEntry // its TicketType: the type waited for
}

// WaitlistLength is a section's list as its organizer sees it.
type WaitlistLength struct {
	Section  string
	Waiting  int // buyers
	Units    int // units they want
	Reserved int // units set aside for them
	Offers   int // open offers
}

// waitlist runs the waiting-list commands on a show's stream, under its
// lock, retried on a conflict; offers they make are appended with their
// orders as the settler appends them.
type waitlist struct {
	shows   *showRepository
	locks   *streamLocks
	settle  *settler
	retries int
}

func newWaitlist(shows *showRepository, locks *streamLocks, settle *settler, retries int) *waitlist {
	mustHave("newWaitlist", shows, locks, settle)
	return &waitlist{shows: shows, locks: locks, settle: settle, retries: retries}
}

// run applies decide to the show as a buyer and appends what it raised.
func (h *waitlist) run(ctx context.Context, actor domain.Actor, id uuid.UUID, decide func(*domain.Show) error) (Result, error) {
	if actor.Role != domain.RoleBuyer {
		return Result{}, ErrForbidden
	}
	defer h.locks.lock(domain.ShowStream(id))()
	var out Result
	err := retry(ctx, h.retries, func() error {
		c, err := h.shows.current(ctx, id)
		if err != nil {
			return err
		}
		if !c.show.Exists() {
			return domain.ErrShowNotFound
		}
		if err := decide(c.show); err != nil {
			h.shows.drop(id) // a failed decision may have raised part of its events
			return err
		}
		pos, err := h.settle.append(ctx, c, nil)
		if err != nil {
			return err
		}
		out = Result{ID: id, Version: c.show.Version(), Position: pos}
		return nil
	})
	return out, err
}

// view returns the waiting lists of a show as actor may see them.
func (h *waitlist) view(ctx context.Context, actor domain.Actor, id uuid.UUID) (WaitlistView, error) {
	s, err := h.shows.load(ctx, id)
	if err != nil {
		return WaitlistView{}, err
	}
	manager := domain.CanManage(actor, s)
	if !s.Exists() || (s.Status == domain.ShowStatusDraft && !manager) {
		return WaitlistView{}, domain.ErrShowNotFound // a draft is its organizer's alone
	}
	v := WaitlistView{ShowID: id, Places: []WaitlistPlace{}, Offers: []domain.WaitlistOffer{}}
	offers := s.WaitlistOffers()
	for _, o := range offers {
		if o.BuyerID == actor.UserID {
			v.Offers = append(v.Offers, o)
		}
	}
	for _, spec := range s.Sections() {
		if place, e := s.WaitlistPlace(actor.UserID, spec.Name); place > 0 {
			v.Places = append(v.Places, WaitlistPlace{Section: spec.Name, Place: place, Quantity: e.Quantity, Entry: e})
		}
		if !manager || spec.Seated() {
			continue
		}
		l := s.Waitlist(spec.Name)
		n := WaitlistLength{Section: spec.Name, Waiting: len(l.Entries), Reserved: l.Reserved}
		for _, e := range l.Entries {
			n.Units += e.Quantity
		}
		for _, o := range offers {
			if o.Section == spec.Name {
				n.Offers++
			}
		}
		v.Sections = append(v.Sections, n)
	}
	return v, nil
}

// offerPlacements returns the order streams to open for the offers among
// a show's changes: each offer's hold follows it, and its order is placed
// on the hold as any other.
func offerPlacements(ctx context.Context, changes []domain.Event, newID func() uuid.UUID) ([]StreamAppend, error) {
	var out []StreamAppend
	for i, e := range changes {
		offer, ok := e.(domain.WaitlistOffered)
		if !ok || i+1 >= len(changes) {
			continue
		}
		held, ok := changes[i+1].(domain.SeatsHeld)
		if !ok || held.OrderID != offer.OrderID {
			continue
		}
		o := domain.NewOrder()
		if err := o.Place(held); err != nil {
			return nil, err
		}
		data, err := domain.Encode(o.Changes(), newID, metadataOf(ctx))
		if err != nil {
			return nil, err
		}
		out = append(out, StreamAppend{Stream: domain.OrderStream(held.OrderID), Expected: domain.NoStream, Events: data})
	}
	return out, nil
}

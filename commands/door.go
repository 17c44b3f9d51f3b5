package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Buyers finds registered buyers (issue 14: door).
type Buyers interface {
	// BuyerByEmail returns the id of the buyer with that email
	// (case-insensitive), or ErrUserNotFound, also for an account that is
	// not a buyer's.
	BuyerByEmail(ctx context.Context, email string) (uuid.UUID, error)
}

// Bounds of an offline scanner's batch.
const (
	// MaxScansPerBatch is the most scans one upload may carry.
	MaxScansPerBatch = 500
	// MaxScanClockSkew is how far in the future of the engine's clock a
	// scan's scanned_at may be.
	MaxScanClockSkew = 5 * time.Minute
)

// DevTicketCodes returns the codes of domain.DevTicketKey: for tests and
// development engines only.
func DevTicketCodes() *domain.TicketCodes {
	c, err := domain.NewTicketCodes([]byte(domain.DevTicketKey))
	if err != nil {
		panic(err)
	}
	return c
}

// withCodes returns a copy of the order's tickets with their current codes.
func withCodes(codes *domain.TicketCodes, o *domain.Order) []domain.Ticket {
	out := make([]domain.Ticket, len(o.Tickets))
	for i, t := range o.Tickets {
		t.Code = codes.Code(t.ID, o.Generation(t.ID))
		out[i] = t
	}
	return out
}

// door runs the commands of the door and of ticket holders: check-in by
// code, offline scans and transfers.
type door struct {
	*checkIn
	codes  *domain.TicketCodes
	buyers Buyers // nil: no transfers
}

func newDoor(c *checkIn, codes *domain.TicketCodes, buyers Buyers) *door {
	mustHave("newDoor", c, codes)
	return &door{checkIn: c, codes: codes, buyers: buyers}
}

// Admission is the answer of the door to one code: the ticket (without its
// code) and, once admitted, when.
type Admission struct {
	Result
	OrderID     uuid.UUID
	ShowID      uuid.UUID
	Ticket      domain.Ticket
	CheckedInAt time.Time

	refusal error // of this scan, in a batch
}

// TransferResult is the answer to a transfer.
type TransferResult struct {
	Result
	ToUserID   uuid.UUID
	Generation int
}

// transfer gives a ticket the actor holds to the buyer with that email.
func (h *door) transfer(ctx context.Context, actor domain.Actor, ticketID uuid.UUID, email string) (TransferResult, error) {
	if h.buyers == nil {
		return TransferResult{}, fmt.Errorf("Transfer: %w", errNotWired)
	}
	to, err := h.buyers.BuyerByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		return TransferResult{}, &domain.ValidationError{Fields: []domain.FieldError{{Field: "email", Detail: "must name a registered buyer"}}}
	}
	if err != nil {
		return TransferResult{}, err
	}
	orderID, _, err := h.tickets.TicketOrder(ctx, ticketID)
	if err != nil {
		return TransferResult{}, err
	}
	var out TransferResult
	err = h.changeOrder(ctx, orderID, func(o *domain.Order) error {
		return o.Transfer(ticketID, actor.UserID, to, h.now())
	}, func(o *domain.Order, res AppendResult) {
		out = TransferResult{Result: Result{ID: ticketID, Version: res.Version, Position: res.Position},
			ToUserID: to, Generation: o.Generation(ticketID)}
	})
	return out, err
}

// checkInCode admits the ticket of a code at the door of a show the actor
// manages. A refusal is a *domain.CheckInRefusedError; the Admission then
// still names the ticket when the code does.
func (h *door) checkInCode(ctx context.Context, actor domain.Actor, showID uuid.UUID, code string) (Admission, error) {
	if _, err := h.showOwnedBy(ctx, actor, showID); err != nil {
		return Admission{}, err
	}
	s, orderID, err := h.locate(ctx, showID, code)
	if err != nil {
		return Admission{}, err
	}
	out, err := h.admit(ctx, orderID, []domain.DoorScan{s})
	if len(out) == 0 {
		return Admission{}, err
	}
	return out[0], err
}

// locate verifies a code and finds its ticket's order.
func (h *door) locate(ctx context.Context, showID uuid.UUID, code string) (domain.DoorScan, uuid.UUID, error) {
	id, gen, err := h.codes.Verify(code)
	if err != nil {
		return domain.DoorScan{}, uuid.Nil, &domain.CheckInRefusedError{Reason: domain.RefusedUnknownCode}
	}
	orderID, ticketShow, err := h.tickets.TicketOrder(ctx, id)
	if errors.Is(err, domain.ErrTicketNotFound) {
		return domain.DoorScan{}, uuid.Nil, &domain.CheckInRefusedError{Reason: domain.RefusedUnknownCode, TicketID: id}
	}
	if err != nil {
		return domain.DoorScan{}, uuid.Nil, err
	}
	if ticketShow != showID {
		return domain.DoorScan{}, uuid.Nil, &domain.CheckInRefusedError{Reason: domain.RefusedWrongShow, TicketID: id}
	}
	return domain.DoorScan{ShowID: showID, TicketID: id, Generation: gen}, orderID, nil
}

// admit decides the scans of one order's tickets in order and appends the
// check-ins in one write; a scan of a ticket an earlier one admitted is a
// duplicate. It returns one admission per scan and the first
// scan's refusal (each admission keeps its own).
func (h *door) admit(ctx context.Context, orderID uuid.UUID, scans []domain.DoorScan) ([]Admission, error) {
	var out []Admission
	var refusals []error
	err := h.changeOrder(ctx, orderID, func(o *domain.Order) error {
		now, admitted := h.now(), map[uuid.UUID]bool{}
		out, refusals = make([]Admission, len(scans)), make([]error, len(scans))
		for i, s := range scans {
			refusals[i] = o.Admit(s, now)
			switch {
			case refusals[i] == nil:
				admitted[s.TicketID] = true
			case admitted[s.TicketID] && errors.Is(refusals[i], domain.ErrAlreadyCheckedIn):
				// A later scan of a ticket this batch admitted.
				refusals[i] = &domain.CheckInRefusedError{Reason: domain.RefusedDuplicate, TicketID: s.TicketID}
			}
			out[i] = Admission{OrderID: orderID, ShowID: o.ShowID, Result: Result{ID: s.TicketID}}
			out[i].Ticket, _ = o.Ticket(s.TicketID)
			out[i].CheckedInAt = o.CheckedIn[s.TicketID]
		}
		return nil
	}, func(_ *domain.Order, res AppendResult) {
		for i := range out {
			out[i].Version, out[i].Position = res.Version, res.Position
		}
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].refusal = refusals[i]
	}
	return out, refusals[0]
}

// Scan is one scan of an offline scanner.
type Scan struct {
	Code      string
	Nonce     string
	ScannedAt time.Time
}

// ScanOutcome is what became of one scan of a batch: Outcome is
// "checked_in" or one of the domain's Refused reasons.
type ScanOutcome struct {
	Nonce       string
	Outcome     string
	TicketID    uuid.UUID
	CheckedInAt time.Time
}

// OutcomeCheckedIn is the outcome of a scan that checked its ticket in.
const OutcomeCheckedIn = "checked_in"

// checkScans refuses a batch that is empty, too large or has a bad scan,
// with a *domain.ValidationError: nothing is written.
func checkScans(scans []Scan, now time.Time) error {
	if len(scans) == 0 || len(scans) > MaxScansPerBatch {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "scans", Detail: fmt.Sprintf("must hold 1 to %d scans", MaxScansPerBatch)}}}
	}
	var fields []domain.FieldError
	for i, s := range scans {
		f := fmt.Sprintf("scans[%d]", i)
		if len(s.Code) == 0 || len(s.Code) > 2*domain.TicketCodeLen {
			fields = append(fields, domain.FieldError{Field: f + ".code", Detail: "must be a ticket code"})
		}
		var inval *domain.ValidationError
		if errors.As(domain.CheckNonce(f+".nonce", s.Nonce), &inval) {
			fields = append(fields, inval.Fields...)
		}
		if s.ScannedAt.IsZero() || s.ScannedAt.After(now.Add(MaxScanClockSkew)) {
			fields = append(fields, domain.FieldError{Field: f + ".scanned_at", Detail: "must be a time, not in the future"})
		}
		if len(fields) >= 50 {
			break
		}
	}
	if len(fields) > 0 {
		return &domain.ValidationError{Fields: fields}
	}
	return nil
}

// scans records a batch of offline scans at the door of a show the actor
// manages: the first scan of each ticket in time wins (an existing
// check-in wins over all), a nonce counts once; it returns one outcome per
// scan, in the batch's order.
func (h *door) scans(ctx context.Context, actor domain.Actor, showID uuid.UUID, scans []Scan) ([]ScanOutcome, error) {
	if err := checkScans(scans, h.now()); err != nil {
		return nil, err
	}
	if _, err := h.showOwnedBy(ctx, actor, showID); err != nil {
		return nil, err
	}
	out := make([]ScanOutcome, len(scans))
	byOrder, err := h.planScans(ctx, showID, scans, out)
	if err != nil {
		return nil, err
	}
	for _, p := range byOrder {
		adm, err := h.admit(ctx, p.order, p.scans)
		var refusal *domain.CheckInRefusedError
		if err != nil && !errors.As(err, &refusal) {
			return nil, err
		}
		for j, a := range adm {
			out[p.idx[j]].CheckedInAt = a.CheckedInAt
			out[p.idx[j]].Outcome = outcomeOf(a.refusal)
		}
	}
	return out, nil
}

// orderScans are the scans of a batch that go to one order.
type orderScans struct {
	order uuid.UUID
	scans []domain.DoorScan
	idx   []int // of each scan in the batch
}

// planScans settles the scans that need no order (unknown codes, wrong
// shows, nonces twice in the batch) in out, and groups the others by
// order, earliest scan first: the first scan of a ticket that the door
// admits wins, and a refused one (an old code) does not hide a later one.
func (h *door) planScans(ctx context.Context, showID uuid.UUID, scans []Scan, out []ScanOutcome) ([]*orderScans, error) {
	order := make([]int, len(scans))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scans[order[a]].ScannedAt.Before(scans[order[b]].ScannedAt) })
	nonces := map[string]bool{}
	groups := map[uuid.UUID]*orderScans{}
	var plan []*orderScans
	for _, i := range order {
		s := scans[i]
		out[i].Nonce = s.Nonce
		ds, orderID, err := h.locate(ctx, showID, s.Code)
		var refusal *domain.CheckInRefusedError
		switch {
		case errors.As(err, &refusal):
			out[i].TicketID, out[i].Outcome = refusal.TicketID, refusal.Reason
			continue
		case err != nil:
			return nil, err
		}
		out[i].TicketID = ds.TicketID
		if nonces[s.Nonce] {
			out[i].Outcome = domain.RefusedDuplicate
			continue
		}
		nonces[s.Nonce] = true
		ds.Nonce, ds.ScannedAt = s.Nonce, s.ScannedAt
		g := groups[orderID]
		if g == nil {
			g = &orderScans{order: orderID}
			groups[orderID] = g
			plan = append(plan, g)
		}
		g.scans, g.idx = append(g.scans, ds), append(g.idx, i)
	}
	return plan, nil
}

func outcomeOf(refusal error) string {
	var r *domain.CheckInRefusedError
	if errors.As(refusal, &r) {
		return r.Reason
	}
	return OutcomeCheckedIn
}

package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Handler wires the event-sourced commands from one set of ports and
// options, and runs them: one method per command, each a call of its own
// small handler (one file each), which loads the aggregate, decides, and
// appends with the expected version, retrying a bounded number of times on
// a conflict. Set the fields, then call NewHandler; later changes to them
// are not seen.
type Handler struct {
	Store    EventStore
	Registry *domain.Registry
	Payments PaymentProvider
	Tickets  TicketLocator
	// Shows, if set, counts live shows for the organizers' show quota.
	Shows LiveShows
	Log   *slog.Logger

	// Now is the clock; NewID makes ids.
	Now   func() time.Time
	NewID func() uuid.UUID
	// issue 14: door. Codes makes and verifies ticket codes (the
	// development key, domain.DevTicketKey, when nil); Buyers finds the
	// recipient of a transfer (Transfer needs it).
	Codes  *domain.TicketCodes
	Buyers Buyers
	// HoldTTL is how long a hold lasts unpaid.
	HoldTTL time.Duration
	// issue 14: waitlist — WaitlistOfferWindow is how long a waiting-list
	// offer's hold lasts; 0 means domain.DefaultOfferWindow.
	WaitlistOfferWindow time.Duration
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
	// issue 14: asyncpay
	// Intents, if set with Payments, opens payment intents: StartPayment,
	// PaymentSucceeded and PaymentFailed need it.
	Intents PaymentIntents

	shows       *showRepository
	createShow  *createShow
	editShow    *editShow
	publishShow *publishShow
	cancelShow  *cancelShow
	placeOrder  *placeOrder
	payOrder    *payOrder // nil without Payments
	cancelOrder *cancelOrder
	settler     *settler
	checkIn     *checkIn     // nil without Tickets
	rules       *changeRules // issue 14: rules
	door        *door        // issue 14: door; nil without Tickets
	asyncPay    *asyncPay    // issue 14: asyncpay; nil without Payments and Intents
	waitlist    *waitlist    // issue 14: waitlist
	// issue 14: money
	refundOrder *refundOrder // nil without Payments
}

// NewHandler returns a handler with production defaults for what is unset,
// its commands wired to the ports set. Store and Registry are required;
// PayOrder needs Payments, CheckIn needs Tickets.
func NewHandler(h *Handler) *Handler {
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.NewID == nil {
		h.NewID = NewID
	}
	if h.Codes == nil {
		h.Codes = DevTicketCodes()
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
	mustHave("NewHandler", h.Store, h.Registry)
	events := &eventLog{store: h.Store, registry: h.Registry, newID: h.NewID, log: h.Log}
	locks := &streamLocks{}
	h.shows = newShowRepository(events, h.Snapshots, h.SnapshotEvery, &h.Stats)
	h.createShow = newCreateShow(events, h.Shows, h.Now, h.NewID)
	change := newShowChange(h.shows, locks, h.MaxRetries)
	h.editShow = newEditShow(change, h.Now)
	h.publishShow = newPublishShow(change, h.Now)
	h.cancelShow = newCancelShow(change, h.Now)
	h.rules = newChangeRules(change, h.Now) // issue 14: rules
	h.placeOrder = newPlaceOrder(events, h.shows, locks, h.Now, h.NewID, h.HoldTTL, h.MaxRetries, &h.Stats, h.Appended)
	h.settler = newSettler(events, h.shows, locks, h.Now, h.NewID, h.MaxRetries, h.Log)
	h.shows.offerWindow = h.WaitlistOfferWindow // issue 14: waitlist
	h.waitlist = newWaitlist(h.shows, locks, h.settler, h.MaxRetries)
	if h.Payments != nil {
		h.payOrder = newPayOrder(events, h.shows, locks, h.Payments, h.settler, h.Now, h.NewID, h.Codes, h.MaxRetries, h.Log)
		h.refundOrder = newRefundOrder(events, h.shows, locks, h.Payments, h.Now, h.MaxRetries, h.Log) // issue 14: money
	}
	h.cancelOrder = newCancelOrder(events, locks, h.settler, h.Now, h.MaxRetries, h.Log)
	if h.Tickets != nil {
		h.checkIn = newCheckIn(events, h.shows, h.Tickets, locks, h.Now, h.MaxRetries)
		h.door = newDoor(h.checkIn, h.Codes, h.Buyers) // issue 14: door
	}
	if h.payOrder != nil && h.Intents != nil { // issue 14: asyncpay
		h.asyncPay = newAsyncPay(h.payOrder, h.Intents)
	}
	return h
}

// errNotWired: the command needs a port the handler was built without.
var errNotWired = errors.New("commands: the handler has no port for this command")

// LoadShow returns a show as it stands: from its latest snapshot and the
// events after it.
func (h *Handler) LoadShow(ctx context.Context, id uuid.UUID) (*domain.Show, error) {
	return h.shows.load(ctx, id)
}

// CreateShow creates a draft show owned by the organizer actor. With
// Shows set, an organizer at domain.MaxLiveShowsPerOrganizer live shows
// gets domain.ErrShowQuota. The quota is not exact: the count comes from a
// read model, so shows created meanwhile, or not projected yet, may take an
// organizer past it by as many.
func (h *Handler) CreateShow(ctx context.Context, actor domain.Actor, c domain.CreateShow) (Result, error) {
	return h.createShow.handle(ctx, actor, c)
}

// EditShow changes a show's details, prices and per-buyer limit.
func (h *Handler) EditShow(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.EditShow) (Result, error) {
	return h.editShow.handle(ctx, actor, id, c)
}

// PublishShow puts a show on sale.
func (h *Handler) PublishShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.publishShow.handle(ctx, actor, id)
}

// CancelShow stops a show's sales.
func (h *Handler) CancelShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.cancelShow.handle(ctx, actor, id)
}

// PlaceOrder holds inventory in the show's stream, then opens the order's
// stream (in one append where the store can).
func (h *Handler) PlaceOrder(ctx context.Context, actor domain.Actor, c PlaceOrder) (OrderResult, error) {
	return h.placeOrder.handle(ctx, actor, c)
}

// PayOrder charges the buyer and confirms a held order.
func (h *Handler) PayOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, token string) (PayResult, error) {
	if h.payOrder == nil {
		return PayResult{}, fmt.Errorf("PayOrder: %w", errNotWired)
	}
	return h.payOrder.handle(ctx, actor, id, token)
}

// CancelOrder ends a held order at its buyer's request and frees its seats.
func (h *Handler) CancelOrder(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.cancelOrder.handle(ctx, actor, id)
}

// Settle brings a show's hold of an order in line with the order, and
// returns the position of the last append, if any.
func (h *Handler) Settle(ctx context.Context, showID, orderID uuid.UUID) (domain.Position, error) {
	return h.settler.settleOne(ctx, showID, orderID)
}

// SettleMany settles many orders of one show as Settle settles one, in one
// append, and returns how many it settled or found settled.
func (h *Handler) SettleMany(ctx context.Context, showID uuid.UUID, orders []uuid.UUID) (int, error) {
	return h.settler.settleAll(ctx, showID, orders)
}

// CheckIn admits a ticket at the door; only the show's organizer (or an
// admin) may, and only once.
func (h *Handler) CheckIn(ctx context.Context, actor domain.Actor, ticketID uuid.UUID) (Result, error) {
	if h.checkIn == nil {
		return Result{}, fmt.Errorf("CheckIn: %w", errNotWired)
	}
	return h.checkIn.handle(ctx, actor, ticketID)
}

// issue 14: rules. The organizer's rules of a show (domain.CanManage).

// AddTicketType adds a ticket type to a show.
func (h *Handler) AddTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, t domain.TicketType) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.addTicketType(t))
}

// ChangeTicketType changes a ticket type of a show.
func (h *Handler) ChangeTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, code string, p domain.TicketTypePatch) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.changeTicketType(code, p))
}

// SetQuota adds or replaces a quota of a show.
func (h *Handler) SetQuota(ctx context.Context, actor domain.Actor, id uuid.UUID, q domain.Quota) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.setQuota(q))
}

// SetOrderLimits sets the fewest and most units per order of a show.
func (h *Handler) SetOrderLimits(ctx context.Context, actor domain.Actor, id uuid.UUID, min, max int) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.setOrderLimits(min, max))
}

// CreateVoucher creates a voucher of a show.
func (h *Handler) CreateVoucher(ctx context.Context, actor domain.Actor, id uuid.UUID, v domain.Voucher) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.createVoucher(v))
}

// DisableVoucher disables a voucher of a show.
func (h *Handler) DisableVoucher(ctx context.Context, actor domain.Actor, id uuid.UUID, code string) (Result, error) {
	return h.rules.run(ctx, actor, id, h.rules.disableVoucher(code))
}

// issue 14: door (door.go).

// CheckInCode admits the ticket of a code at the door of a show the actor
// manages; a refusal is a *domain.CheckInRefusedError.
func (h *Handler) CheckInCode(ctx context.Context, actor domain.Actor, showID uuid.UUID, code string) (Admission, error) {
	if h.door == nil {
		return Admission{}, fmt.Errorf("CheckInCode: %w", errNotWired)
	}
	return h.door.checkInCode(ctx, actor, showID, code)
}

// RecordScans records a batch of offline scans at the door of a show.
func (h *Handler) RecordScans(ctx context.Context, actor domain.Actor, showID uuid.UUID, scans []Scan) ([]ScanOutcome, error) {
	if h.door == nil {
		return nil, fmt.Errorf("RecordScans: %w", errNotWired)
	}
	return h.door.scans(ctx, actor, showID, scans)
}

// TransferTicket gives a ticket the actor holds to the buyer with that email.
func (h *Handler) TransferTicket(ctx context.Context, actor domain.Actor, ticketID uuid.UUID, email string) (TransferResult, error) {
	if h.door == nil {
		return TransferResult{}, fmt.Errorf("TransferTicket: %w", errNotWired)
	}
	return h.door.transfer(ctx, actor, ticketID, email)
}

// TicketCodes returns the codes the handler verifies.
func (h *Handler) TicketCodes() *domain.TicketCodes { return h.Codes }

// issue 14: asyncpay

// StartPayment opens the payment intent of a held order of the buyer
// actor, or returns the one it opened before.
func (h *Handler) StartPayment(ctx context.Context, actor domain.Actor, id uuid.UUID) (IntentResult, error) {
	if h.asyncPay == nil {
		return IntentResult{}, fmt.Errorf("StartPayment: %w", errNotWired)
	}
	return h.asyncPay.start(ctx, actor, id)
}

// PaymentSucceeded applies a provider's report that a payment of an order's
// intent succeeded: the order is confirmed, or the payment refunded.
func (h *Handler) PaymentSucceeded(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (PaymentOutcome, error) {
	if h.asyncPay == nil {
		return PaymentOutcome{}, fmt.Errorf("PaymentSucceeded: %w", errNotWired)
	}
	return h.asyncPay.succeeded(ctx, order, p)
}

// PaymentFailed records a provider's report that an attempt to pay an
// order's intent failed.
func (h *Handler) PaymentFailed(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (PaymentOutcome, error) {
	if h.asyncPay == nil {
		return PaymentOutcome{}, fmt.Errorf("PaymentFailed: %w", errNotWired)
	}
	return h.asyncPay.failed(ctx, order, p)
}

// issue 14: waitlist

// JoinWaitlist puts the buyer actor on the waiting list of a sold-out
// general-admission section (or ticket type) for j.Quantity units; the
// answer names the section joined (a type's, when j names none).
func (h *Handler) JoinWaitlist(ctx context.Context, actor domain.Actor, show uuid.UUID, j WaitlistJoin) (JoinedWaitlist, error) {
	res, err := h.waitlist.run(ctx, actor, show, func(s *domain.Show) error {
		sec, err := s.JoinWaitlistType(actor.UserID, j.Section, j.TicketType, j.Quantity, h.Now())
		j.Section = sec
		return err
	})
	return JoinedWaitlist{Result: res, WaitlistJoin: j}, err
}

// LeaveWaitlist takes the buyer actor off a section's waiting list.
func (h *Handler) LeaveWaitlist(ctx context.Context, actor domain.Actor, show uuid.UUID, section string) (Result, error) {
	return h.waitlist.run(ctx, actor, show, func(s *domain.Show) error { return s.LeaveWaitlist(actor.UserID, section, h.Now()) })
}

// Waitlist returns a show's waiting lists as actor may see them.
func (h *Handler) Waitlist(ctx context.Context, actor domain.Actor, show uuid.UUID) (WaitlistView, error) {
	return h.waitlist.view(ctx, actor, show)
}

// issue 14: money.

// RefundOrder refunds tickets of a confirmed order (all that are left when
// none are named); only the show's organizer (or an admin) may.
func (h *Handler) RefundOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, r domain.RefundRequest) (RefundResult, error) {
	if h.refundOrder == nil {
		return RefundResult{}, fmt.Errorf("RefundOrder: %w", errNotWired)
	}
	return h.refundOrder.handle(ctx, actor, id, r)
}

// RefundCancelledOrder refunds what is left of an order of a cancelled
// show, for the refund process; a refunded or unpaid order is left alone.
func (h *Handler) RefundCancelledOrder(ctx context.Context, id uuid.UUID) error {
	if h.refundOrder == nil {
		return fmt.Errorf("RefundCancelledOrder: %w", errNotWired)
	}
	return h.refundOrder.cancelled(ctx, id)
}

// SettleRefund settles a decided refund again: the provider's refund by
// its key and the return of its units; both are idempotent.
func (h *Handler) SettleRefund(ctx context.Context, order uuid.UUID, refundID string) error {
	if h.refundOrder == nil {
		return fmt.Errorf("SettleRefund: %w", errNotWired)
	}
	return h.refundOrder.settleRecorded(ctx, order, refundID)
}

// ReleaseCancelledHold cancels a held order of a cancelled show, for the
// refund process: its hold is released (as cancelled).
func (h *Handler) ReleaseCancelledHold(ctx context.Context, id uuid.UUID) error {
	return h.cancelOrder.releaseHold(ctx, h.shows, id)
}

// NewID returns a new time-ordered id (a UUIDv7).
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

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

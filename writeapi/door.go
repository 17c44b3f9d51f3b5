package writeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// Issue 14 (door): check-in by code, offline scans and transfers.

// Door runs the commands of the door and of ticket holders. Refusals at
// the door are *domain.CheckInRefusedError.
type Door interface {
	// CheckInCode admits the ticket of a code at the door of a show the
	// actor manages.
	CheckInCode(ctx context.Context, actor domain.Actor, showID uuid.UUID, code string) (commands.Admission, error)
	// RecordScans records a batch of offline scans at a show's door.
	RecordScans(ctx context.Context, actor domain.Actor, showID uuid.UUID, scans []commands.Scan) ([]commands.ScanOutcome, error)
	// TransferTicket gives a ticket the actor holds to the buyer with that
	// email.
	TransferTicket(ctx context.Context, actor domain.Actor, ticketID uuid.UUID, email string) (commands.TransferResult, error)
}

// maxEmailLen bounds the email of a transfer's recipient (RFC 5321).
const maxEmailLen = 254

// refusalSlugs are the problem types of the door's refusals, by reason.
var refusalSlugs = map[string]struct {
	status int
	slug   string
	title  string
}{
	domain.RefusedAlreadyCheckedIn: {http.StatusConflict, "already-checked-in", "Already checked in"},
	domain.RefusedVoided:           {http.StatusConflict, "ticket-voided", "Ticket voided"},
	domain.RefusedTransferred:      {http.StatusConflict, "ticket-transferred", "Ticket transferred"},
	domain.RefusedWrongShow:        {http.StatusConflict, "wrong-show", "Ticket for another show"},
	domain.RefusedUnknownCode:      {http.StatusNotFound, "unknown-code", "Unknown ticket code"},
	domain.RefusedDuplicate:        {http.StatusConflict, "duplicate-scan", "Scan recorded already"},
}

// fillRefusal completes the problem of a *domain.CheckInRefusedError.
func fillRefusal(err error, p *Problem) {
	var r *domain.CheckInRefusedError
	errors.As(err, &r)
	s, ok := refusalSlugs[r.Reason]
	if !ok {
		s = refusalSlugs[domain.RefusedUnknownCode]
	}
	*p = Problem{Type: "urn:problem:ticketing:" + s.slug, Title: s.title, Status: s.status, Detail: r.Error(), Code: r.Reason}
}

// ticketBody is a ticket as the door sees it: never its code.
type ticketBody struct {
	ID      uuid.UUID `json:"id"`
	OrderID uuid.UUID `json:"order_id"`
	ShowID  uuid.UUID `json:"show_id"`
	Section string    `json:"section"`
	Row     string    `json:"row,omitempty"`
	Seat    int       `json:"seat,omitempty"`
}

func ticketOf(a commands.Admission) *ticketBody {
	if a.Ticket.ID == uuid.Nil {
		return nil
	}
	t := a.Ticket
	return &ticketBody{ID: t.ID, OrderID: a.OrderID, ShowID: a.ShowID, Section: t.Section, Row: t.Row, Seat: t.Seat}
}

// refusalProblem is the problem of a refusal at the door, with the ticket
// it names and, when checked in already, when.
type refusalProblem struct {
	Problem
	Ticket      *ticketBody `json:"ticket,omitempty"`
	CheckedInAt *time.Time  `json:"checked_in_at,omitempty"`
}

type checkInRequest struct {
	Code   string    `json:"code"`
	ShowID uuid.UUID `json:"show_id"`
}

// checkInCode: POST /v1/check-ins.
func (a *API) checkInCode(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req checkInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var v []domain.FieldError
	if req.ShowID == uuid.Nil {
		v = append(v, domain.FieldError{Field: "show_id", Detail: "is required"})
	}
	if req.Code == "" || len(req.Code) > 2*domain.TicketCodeLen {
		v = append(v, domain.FieldError{Field: "code", Detail: "must be a ticket code"})
	}
	if len(v) > 0 {
		return &domain.ValidationError{Fields: v}
	}
	adm, err := a.door.CheckInCode(r.Context(), actor, req.ShowID, req.Code)
	if refused(w, err, ticketOf(adm)) {
		return nil
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ticket": ticketOf(adm), "checked_in": true,
		"checked_in_at": adm.CheckedInAt.UTC(), "position": position(r.Context(), adm.Position)})
}

// refused answers a refusal at the door (a *domain.CheckInRefusedError)
// with its problem, the ticket it names and, when checked in already,
// when; it reports whether err was one.
func refused(w http.ResponseWriter, err error, ticket *ticketBody) bool {
	var refusal *domain.CheckInRefusedError
	if !errors.As(err, &refusal) {
		return false
	}
	p := refusalProblem{Problem: problemFor(err), Ticket: ticket}
	if refusal.Reason == domain.RefusedAlreadyCheckedIn {
		at := refusal.CheckedInAt.UTC()
		p.CheckedInAt = &at
	}
	_ = writeProblemJSON(w, p)
	return true
}

func writeProblemJSON(w http.ResponseWriter, p refusalProblem) error {
	w.Header().Set("Content-Type", web.ProblemContentType)
	w.WriteHeader(p.Status)
	return json.NewEncoder(w).Encode(p)
}

type scanRequest struct {
	Code      string    `json:"code"`
	Nonce     string    `json:"nonce"`
	ScannedAt time.Time `json:"scanned_at"`
}

type scansRequest struct {
	Scans []scanRequest `json:"scans"`
}

type scanResult struct {
	Nonce       string     `json:"nonce"`
	Outcome     string     `json:"outcome"`
	TicketID    *uuid.UUID `json:"ticket_id,omitempty"`
	CheckedInAt *time.Time `json:"checked_in_at,omitempty"`
}

// recordScans: POST /v1/shows/{id}/scans, a batch of offline scans.
func (a *API) recordScans(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req scansRequest
	id, err := pathIDBody(r, &req)
	if err != nil {
		return err
	}
	scans := make([]commands.Scan, len(req.Scans))
	for i, s := range req.Scans {
		scans[i] = commands.Scan{Code: s.Code, Nonce: s.Nonce, ScannedAt: s.ScannedAt}
	}
	outs, err := a.door.RecordScans(r.Context(), actor, id, scans)
	if err != nil {
		return err
	}
	results, admitted := make([]scanResult, len(outs)), 0
	for i, o := range outs {
		results[i] = scanResult{Nonce: o.Nonce, Outcome: o.Outcome}
		if o.TicketID != uuid.Nil {
			results[i].TicketID = &o.TicketID
		}
		if !o.CheckedInAt.IsZero() {
			at := o.CheckedInAt.UTC()
			results[i].CheckedInAt = &at
		}
		if o.Outcome == commands.OutcomeCheckedIn {
			admitted++
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"show_id": id, "checked_in": admitted, "results": results})
}

type transferRequest struct {
	Email string `json:"email"`
}

// transferTicket: POST /v1/tickets/{id}/transfer.
func (a *API) transferTicket(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req transferRequest
	id, err := pathIDBody(r, &req)
	if err != nil {
		return err
	}
	// The shape sign-up takes (a NUL or a control character would reach
	// PostgreSQL's text and fail there, a 500).
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(req.Email) > maxEmailLen {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "email", Detail: "must be the email of a registered buyer"}}}
	}
	res, err := a.door.TransferTicket(r.Context(), actor, id, req.Email)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": res.ID, "to_user_id": res.ToUserID, "generation": res.Generation,
		"transferred": true, "position": position(r.Context(), res.Position)})
}

// deprecated marks the answers of a route that goes away in the next
// release (RFC 9745's Deprecation, RFC 8594's successor Link).
func deprecated(successor string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		w.Header().Set("Deprecation", "true")
		w.Header().Set("Link", "<"+successor+">; rel=\"successor-version\"")
		return h(w, r, actor)
	}
}

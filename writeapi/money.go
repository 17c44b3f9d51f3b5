package writeapi

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// refundRequest is the body of POST /v1/orders/{id}/refund. Reason and
// restock are pointers because the document lets a client send either as
// null, the default.
type refundRequest struct {
	Tickets []uuid.UUID `json:"tickets"`
	Reason  *string     `json:"reason"`
	Restock *bool       `json:"restock"`
}

// refundOrder: POST /v1/orders/{id}/refund, by the show's organizer or an
// admin: refunds the tickets named (all that are left by default) and,
// with restock, puts their seats back on sale.
func (a *API) refundOrder(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req refundRequest
	id, err := pathIDBody(r, &req)
	if err != nil {
		return err
	}
	res, err := a.refunds.RefundOrder(r.Context(), actor, id, domain.RefundRequest{Tickets: req.Tickets, Reason: deref(req.Reason), Restock: deref(req.Restock)})
	if err != nil {
		return err
	}
	tickets := res.Tickets
	if tickets == nil {
		tickets = []uuid.UUID{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": res.ID, "status": res.Status, "refund_id": res.RefundID, "amount_cents": res.AmountCents,
		"tickets": tickets, "restock": deref(req.Restock), "settled": res.Settled, "position": position(r.Context(), res.Position),
	})
}

// deref is *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

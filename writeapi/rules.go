package writeapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Rules are the organizer's commands on a show's ticket types, quotas,
// per-order limits and vouchers (issue 14). Each returns
// domain.ErrShowNotFound, commands.ErrForbidden for an actor who may not
// manage the show, a *domain.ValidationError, or the rule's own errors
// (domain.ErrTicketTypeExists, ErrTicketTypeNotFound, ErrVoucherExists,
// ErrVoucherNotFound).
type Rules interface {
	AddTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, t domain.TicketType) (commands.Result, error)
	ChangeTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, code string, p domain.TicketTypePatch) (commands.Result, error)
	SetQuota(ctx context.Context, actor domain.Actor, id uuid.UUID, q domain.Quota) (commands.Result, error)
	SetOrderLimits(ctx context.Context, actor domain.Actor, id uuid.UUID, min, max int) (commands.Result, error)
	CreateVoucher(ctx context.Context, actor domain.Actor, id uuid.UUID, v domain.Voucher) (commands.Result, error)
	DisableVoucher(ctx context.Context, actor domain.Actor, id uuid.UUID, code string) (commands.Result, error)
}

// registerRules adds the routes of the show's rules.
func (a *API) registerRules(r *mux.Router) {
	r.Handle("/v1/shows/{id}/ticket-types", a.private(ruleRoute(http.StatusCreated, a.addTicketType))).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/ticket-types/{code}", a.private(ruleRoute(http.StatusOK, a.changeTicketType))).Methods(http.MethodPatch)
	r.Handle("/v1/shows/{id}/quotas", a.private(ruleRoute(http.StatusOK, a.rules.SetQuota))).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/order-limits", a.private(ruleRoute(http.StatusOK, a.setOrderLimits))).Methods(http.MethodPut)
	r.Handle("/v1/shows/{id}/vouchers", a.private(ruleRoute(http.StatusCreated, a.rules.CreateVoucher))).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/vouchers/{code}/disable", a.private(a.disableVoucher)).Methods(http.MethodPost)
}

// pathCode is the {code} of a route; one longer than any code names
// nothing.
func pathCode(r *http.Request) (string, error) {
	code := mux.Vars(r)["code"]
	if code == "" || len(code) > domain.MaxCodeLen {
		return "", ErrNotFound
	}
	return code, nil
}

// ruleRoute decodes the body of a rule route into a Req and runs do with
// the show's id (and the route's {code}, in the context's route vars).
func ruleRoute[Req any](status int, do func(ctx context.Context, actor domain.Actor, id uuid.UUID, req Req) (commands.Result, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		var req Req
		id, err := pathIDBody(r, &req)
		if err != nil {
			return err
		}
		res, err := do(codeContext(r), actor, id, req)
		if err != nil {
			return err
		}
		return writeJSON(w, status, result(r.Context(), res))
	}
}

type codeKey struct{}

// codeContext carries the route's {code} to a ruleRoute's do.
func codeContext(r *http.Request) context.Context {
	return context.WithValue(r.Context(), codeKey{}, mux.Vars(r)["code"])
}

type ticketTypeRequest struct {
	Code        string    `json:"code"`
	Name        string    `json:"name"`
	Section     string    `json:"section"`
	PriceCents  *int64    `json:"price_cents"`
	OnSaleFrom  time.Time `json:"on_sale_from"`
	OnSaleUntil time.Time `json:"on_sale_until"`
	Hidden      bool      `json:"hidden"`
}

func required(field string) error {
	return &domain.ValidationError{Fields: []domain.FieldError{{Field: field, Detail: "is required"}}}
}

func (a *API) addTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, req ticketTypeRequest) (commands.Result, error) {
	if req.PriceCents == nil {
		return commands.Result{}, required("price_cents")
	}
	return a.rules.AddTicketType(ctx, actor, id, domain.TicketType{Code: req.Code, Name: req.Name, Section: req.Section,
		PriceCents: *req.PriceCents, OnSaleFrom: req.OnSaleFrom, OnSaleUntil: req.OnSaleUntil, Hidden: req.Hidden})
}

type ticketTypePatchRequest struct {
	Name        *string    `json:"name"`
	PriceCents  *int64     `json:"price_cents"`
	OnSaleFrom  *time.Time `json:"on_sale_from"`
	OnSaleUntil *time.Time `json:"on_sale_until"`
	Hidden      *bool      `json:"hidden"`
}

func (a *API) changeTicketType(ctx context.Context, actor domain.Actor, id uuid.UUID, req ticketTypePatchRequest) (commands.Result, error) {
	code, _ := ctx.Value(codeKey{}).(string)
	if code == "" || len(code) > domain.MaxCodeLen {
		return commands.Result{}, ErrNotFound
	}
	return a.rules.ChangeTicketType(ctx, actor, id, code, domain.TicketTypePatch{Name: req.Name, PriceCents: req.PriceCents,
		OnSaleFrom: req.OnSaleFrom, OnSaleUntil: req.OnSaleUntil, Hidden: req.Hidden})
}

type orderLimitsRequest struct {
	Min *int `json:"min_units_per_order"`
	Max *int `json:"max_units_per_order"`
}

func (a *API) setOrderLimits(ctx context.Context, actor domain.Actor, id uuid.UUID, req orderLimitsRequest) (commands.Result, error) {
	if req.Min == nil || req.Max == nil {
		return commands.Result{}, required("min_units_per_order and max_units_per_order")
	}
	return a.rules.SetOrderLimits(ctx, actor, id, *req.Min, *req.Max)
}

func (a *API) disableVoucher(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	code, err := pathCode(r)
	if err != nil {
		return err
	}
	if err := decodeOptional(r); err != nil {
		return err
	}
	res, err := a.rules.DisableVoucher(r.Context(), actor, id, code)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, result(r.Context(), res))
}

// seatRequest is a seat of a hold, with its ticket type.
type seatRequest struct {
	domain.SeatRef
	TicketType string `json:"ticket_type"`
}

// holdSeats splits the seats of a hold into refs and their ticket types
// (nil when no seat names one).
func holdSeats(seats []seatRequest) (refs []domain.SeatRef, types []string) {
	if len(seats) == 0 {
		return nil, nil
	}
	refs = make([]domain.SeatRef, len(seats))
	for i, s := range seats {
		refs[i] = s.SeatRef
		if s.TicketType != "" && types == nil {
			types = make([]string, len(seats))
		}
		if types != nil {
			types[i] = s.TicketType
		}
	}
	return refs, types
}

package writeapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

type signUpRequest struct {
	Email    string      `json:"email"`
	Password string      `json:"password"`
	Role     domain.Role `json:"role"`
}

func (a *API) signUp(w http.ResponseWriter, r *http.Request, _ domain.Actor) error {
	if err := allow(a.limits.SignInPerAddress, clientAddr(r), "sign-ups and sign-ins from this address"); err != nil {
		return err
	}
	var req signUpRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := a.accounts.SignUp(r.Context(), req.Email, req.Password, req.Role)
	if err != nil {
		return err
	}
	// No Location: there is no route of a user to point at (issue 16).
	return writeJSON(w, http.StatusCreated, map[string]any{"id": u.ID, "email": u.Email, "role": u.Role, "created_at": u.CreatedAt})
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) signIn(w http.ResponseWriter, r *http.Request, _ domain.Actor) error {
	if err := allow(a.limits.SignInPerAddress, clientAddr(r), "sign-ups and sign-ins from this address"); err != nil {
		return err
	}
	var req signInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	// Keyed as SignIn looks the account up, so that spelling an email
	// differently does not buy more guesses.
	if err := allow(a.limits.SignInPerAccount, strings.ToLower(strings.TrimSpace(req.Email)), "sign-in attempts for this account"); err != nil {
		return err
	}
	actor, err := a.accounts.SignIn(r.Context(), req.Email, req.Password)
	if err != nil {
		return err
	}
	token, exp, err := a.tokens.Issue(actor)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_at": exp, "user_id": actor.UserID, "role": actor.Role})
}

// writeResult is the body of most write responses.
type writeResult struct {
	ID       uuid.UUID `json:"id"`
	Version  int64     `json:"version"`
	Position string    `json:"position"`
}

func result(ctx context.Context, res commands.Result) writeResult {
	return writeResult{ID: res.ID, Version: res.Version, Position: position(ctx, res.Position)}
}

// sectionRequest is a section of a new show. Kind, optional, must agree
// with the rows: seated with rows, general_admission with a capacity.
type sectionRequest struct {
	Name       string       `json:"name"`
	Kind       string       `json:"kind"`
	PriceCents *int64       `json:"price_cents"`
	Capacity   int          `json:"capacity"`
	Rows       []rowRequest `json:"rows"`
}

type createShowRequest struct {
	Title            string           `json:"title"`
	Venue            string           `json:"venue"`
	StartsAt         time.Time        `json:"starts_at"`
	Sections         []sectionRequest `json:"sections"`
	MaxUnitsPerBuyer *int             `json:"max_units_per_buyer"`
}

func (a *API) createShow(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req createShowRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c := domain.CreateShow{Title: req.Title, Venue: req.Venue, StartsAt: req.StartsAt, MaxUnitsPerBuyer: req.MaxUnitsPerBuyer}
	if err := tooManySections(len(req.Sections)); err != nil {
		return err
	}
	var bad []domain.FieldError
	for i, s := range req.Sections {
		spec, errs := sectionSpec(i, s)
		bad = append(bad, errs...)
		c.Sections = append(c.Sections, spec)
	}
	if len(bad) > 0 {
		return &domain.ValidationError{Fields: bad}
	}
	res, err := a.shows.CreateShow(r.Context(), actor, c)
	if err != nil {
		return renameFields(err)
	}
	w.Header().Set("Location", "/v1/shows/"+res.ID.String())
	w.Header().Set("ETag", web.ETag(res.Version))
	return writeJSON(w, http.StatusCreated, result(r.Context(), res))
}

type priceRequest struct {
	Name       string `json:"name"`
	PriceCents *int64 `json:"price_cents"`
}

type editShowRequest struct {
	Title            *string        `json:"title"`
	Venue            *string        `json:"venue"`
	StartsAt         *time.Time     `json:"starts_at"`
	Sections         []priceRequest `json:"sections"`
	MaxUnitsPerBuyer *int           `json:"max_units_per_buyer"`
}

func (a *API) editShow(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req editShowRequest
	id, err := pathIDBody(r, &req)
	if err != nil {
		return err
	}
	c := domain.EditShow{Title: req.Title, Venue: req.Venue, StartsAt: req.StartsAt, MaxUnitsPerBuyer: req.MaxUnitsPerBuyer}
	if err := tooManySections(len(req.Sections)); err != nil {
		return err
	}
	if len(req.Sections) > 0 {
		c.Prices = map[string]int64{}
		for i, s := range req.Sections {
			if s.PriceCents == nil {
				return &domain.ValidationError{Fields: []domain.FieldError{{Field: "sections[" + strconv.Itoa(i) + "].price_cents", Detail: "is required"}}}
			}
			if _, dup := c.Prices[s.Name]; dup {
				return &domain.ValidationError{Fields: []domain.FieldError{{Field: "sections[" + strconv.Itoa(i) + "].name", Detail: "section given twice"}}}
			}
			c.Prices[s.Name] = *s.PriceCents
		}
	}
	ctx, err := ifMatch(r) // issue 16: vocab
	if err != nil {
		return err
	}
	res, err := a.shows.EditShow(ctx, actor, id, c)
	if err != nil {
		return currentETag(w, err)
	}
	w.Header().Set("ETag", web.ETag(res.Version))
	return writeJSON(w, http.StatusOK, result(ctx, res))
}

// tooManySections refuses more sections than a show may have before they
// are read one by one; the domain decides every other rule.
func tooManySections(n int) error {
	if n <= domain.MaxSections {
		return nil
	}
	return &domain.ValidationError{Fields: []domain.FieldError{{Field: "sections", Detail: "at most " + strconv.Itoa(domain.MaxSections) + " sections"}}}
}

func (a *API) showLifecycle(do func(context.Context, domain.Actor, uuid.UUID) (commands.Result, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		id, err := pathIDBody(r, nil)
		if err != nil {
			return err
		}
		ctx, err := ifMatch(r) // issue 16: vocab
		if err != nil {
			return err
		}
		res, err := do(ctx, actor, id)
		if err != nil {
			return currentETag(w, err)
		}
		w.Header().Set("ETag", web.ETag(res.Version))
		return writeJSON(w, http.StatusOK, result(ctx, res))
	}
}

// pathIDBody returns the id in the path and decodes the JSON body into
// body; with body nil, the body must be empty or an empty object. A bad id
// is ErrNotFound, whatever the body.
func pathIDBody(r *http.Request, body any) (uuid.UUID, error) {
	id, err := pathID(r)
	if err != nil {
		return uuid.Nil, err
	}
	if body == nil {
		return id, decodeOptional(r)
	}
	return id, decode(r, body)
}

// decodeOptional accepts an empty body or an empty JSON object.
func decodeOptional(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var empty struct{}
	return decode(r, &empty)
}

type placeOrderRequest struct {
	ShowID  uuid.UUID            `json:"show_id"`
	Items   []domain.ItemRequest `json:"items"`
	Seats   []seatRequest        `json:"seats"`   // issue 14: rules: with ticket_type
	Voucher string               `json:"voucher"` // issue 14: rules
}

func (a *API) placeOrder(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req placeOrderRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.ShowID == uuid.Nil {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "show_id", Detail: "is required"}}}
	}
	seats, types := holdSeats(req.Seats)
	res, err := a.orders.PlaceOrder(r.Context(), actor, commands.PlaceOrder{ShowID: req.ShowID, Items: req.Items, Seats: seats,
		SeatTypes: types, Voucher: req.Voucher})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/orders/"+res.ID.String())
	return writeJSON(w, http.StatusCreated, placedOrder{
		ExpiresAt: res.ExpiresAt, ID: res.ID, Position: position(r.Context(), res.Position),
		Status: domain.OrderStatusHeld, TotalCents: res.TotalCents,
	})
}

// placedOrder is the answer to a hold, the hottest route: a struct, not a
// map, so that encoding it sorts and boxes nothing. Its fields are in the
// order encoding/json writes a map's keys, so the bytes are the same.
type placedOrder struct {
	ExpiresAt  time.Time          `json:"expires_at"`
	ID         uuid.UUID          `json:"id"`
	Position   string             `json:"position"`
	Status     domain.OrderStatus `json:"status"`
	TotalCents int64              `json:"total_cents"`
}

// MaxPaymentTokenLen bounds a payment token.
const MaxPaymentTokenLen = 255

type payRequest struct {
	PaymentToken string `json:"payment_token"`
}

func (a *API) payOrder(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req payRequest
	id, err := pathIDBody(r, &req)
	if err != nil {
		return err
	}
	if req.PaymentToken == "" {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "payment_token", Detail: "is required"}}}
	}
	// A card token is short (Stripe's are under 40 characters). Unbounded,
	// each attempt with another token cost the provider a key as long as
	// the body.
	if len(req.PaymentToken) > MaxPaymentTokenLen || strings.ContainsFunc(req.PaymentToken, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "payment_token",
			Detail: "must be a payment token: 1 to " + strconv.Itoa(MaxPaymentTokenLen) + " printable ASCII characters, no spaces"}}}
	}
	res, err := a.orders.PayOrder(r.Context(), actor, id, req.PaymentToken)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": res.ID, "status": domain.OrderStatusConfirmed, "tickets": res.Tickets, "position": position(r.Context(), res.Position),
	})
}

func (a *API) cancelOrder(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathIDBody(r, nil)
	if err != nil {
		return err
	}
	res, err := a.orders.CancelOrder(r.Context(), actor, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": res.ID, "status": domain.OrderStatusCancelled, "position": position(r.Context(), res.Position)})
}

func (a *API) checkIn(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathIDBody(r, nil)
	if err != nil {
		return err
	}
	res, err := a.orders.CheckIn(r.Context(), actor, id)
	if refused(w, err, nil) { // issue 16: vocab, with checked_in_at
		return nil
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": res.ID, "checked_in": true, "position": position(r.Context(), res.Position)})
}

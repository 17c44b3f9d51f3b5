package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel domain errors. Match them with errors.Is.
var (
	ErrUnknownEventType = errors.New("unknown event type")
	ErrShowNotFound     = errors.New("show not found")
	ErrOrderNotFound    = errors.New("order not found")
	ErrTicketNotFound   = errors.New("ticket not found")
	ErrShowExists       = errors.New("show already exists")
	ErrOrderExists      = errors.New("order already exists")
	ErrNotOnSale        = errors.New("show is not on sale")
	ErrShowCancelled    = errors.New("show is cancelled")
	ErrInvalidState     = errors.New("not allowed in the current state")
	ErrSoldOut          = errors.New("not enough units left")
	ErrHoldExpired      = errors.New("hold expired")
	ErrOrderNotHeld     = errors.New("order is not held")
	ErrAlreadyCheckedIn = errors.New("ticket already checked in")
	ErrNoHold           = errors.New("no hold for this order")
	ErrShowStarted      = errors.New("show has started: it is no longer on sale")
	ErrBuyerLimit       = errors.New("per-buyer limit reached")
	ErrShowQuota        = errors.New("too many live shows: cancel one or wait until one has started")
)

// ErrUnauthenticated says that a request carries no valid credentials: an
// invalid, expired or forged token, or one of an account that no longer
// exists. The write and read APIs share it, as their ErrUnauthenticated,
// and answer it with a 401; any other failure to authenticate (a role
// lookup that could not be made) is the server's, never the client's.
var ErrUnauthenticated = errors.New("unauthenticated")

// BuyerLimitError says that a hold would take its buyer past the show's
// per-buyer limit. It matches ErrBuyerLimit.
type BuyerLimitError struct {
	Limit int // the show's per-buyer limit
	Have  int // units the buyer holds in open holds and bought
	Asked int // units the hold asked for
}

func (e *BuyerLimitError) Error() string {
	return fmt.Sprintf("at most %d units per buyer for this show: %d held or bought, %d more asked for", e.Limit, e.Have, e.Asked)
}

// Is makes errors.Is(err, ErrBuyerLimit) true.
func (e *BuyerLimitError) Is(target error) bool { return target == ErrBuyerLimit }

// SeatTakenError says that a seat is already held or sold.
type SeatTakenError struct {
	Seat SeatRef
}

func (e *SeatTakenError) Error() string { return "seat " + e.Seat.String() + " is taken" }

// FieldError is one problem with one input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ValidationError says that a command's input breaks a rule; it lists every
// offending field.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// maxFieldErrors bounds the field errors of one ValidationError: a huge
// hostile input gets a bounded answer.
const maxFieldErrors = 50

// validator collects field errors, up to maxFieldErrors.
type validator struct{ fields []FieldError }

func (v *validator) check(ok bool, field, format string, args ...any) {
	if !ok && len(v.fields) < maxFieldErrors {
		v.fields = append(v.fields, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}

package domain

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the show's rules (issue 14). Match them with errors.Is.
var (
	ErrTicketTypeExists   = errors.New("ticket type exists already")
	ErrTicketTypeNotFound = errors.New("ticket type not found")
	ErrTicketTypeOffSale  = errors.New("ticket type not on sale")
	ErrVoucherExists      = errors.New("voucher exists already")
	ErrVoucherNotFound    = errors.New("voucher not found")
	ErrVoucherInvalid     = errors.New("voucher cannot be used")
	ErrVoucherUsedUp      = errors.New("voucher used up")
	ErrQuotaExhausted     = errors.New("quota exhausted")
	ErrOrderLimit         = errors.New("per-order limit")
)

// TicketTypeOffSaleError says that a ticket type is outside its sales
// window. It matches ErrTicketTypeOffSale.
type TicketTypeOffSaleError struct {
	Code        string
	From, Until time.Time // zero: open
}

func (e *TicketTypeOffSaleError) Error() string {
	return fmt.Sprintf("ticket type %q is not on sale now", e.Code)
}

// Is makes errors.Is(err, ErrTicketTypeOffSale) true.
func (e *TicketTypeOffSaleError) Is(target error) bool { return target == ErrTicketTypeOffSale }

// VoucherError says why a voucher cannot be used. It matches
// ErrVoucherInvalid.
type VoucherError struct {
	Code   string
	Reason string
}

func (e *VoucherError) Error() string { return fmt.Sprintf("voucher %q %s", e.Code, e.Reason) }

// Is makes errors.Is(err, ErrVoucherInvalid) true.
func (e *VoucherError) Is(target error) bool { return target == ErrVoucherInvalid }

// VoucherUsedUpError says that a voucher has no use left. It matches
// ErrVoucherUsedUp.
type VoucherUsedUpError struct {
	Code    string
	MaxUses int
}

func (e *VoucherUsedUpError) Error() string {
	return fmt.Sprintf("voucher %q is used up: all %d uses are taken", e.Code, e.MaxUses)
}

// Is makes errors.Is(err, ErrVoucherUsedUp) true.
func (e *VoucherUsedUpError) Is(target error) bool { return target == ErrVoucherUsedUp }

// QuotaError says that a hold would take a quota past its units. It
// matches ErrQuotaExhausted.
type QuotaError struct {
	Quota        string
	Units, Taken int
	Asked        int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota %q: %d of %d units taken, %d more asked for", e.Quota, e.Taken, e.Units, e.Asked)
}

// Is makes errors.Is(err, ErrQuotaExhausted) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuotaExhausted }

// OrderLimitError says that a hold has fewer or more units than one order
// of the show may. It matches ErrOrderLimit.
type OrderLimitError struct {
	Min, Max int
	Asked    int
}

func (e *OrderLimitError) Error() string {
	return fmt.Sprintf("an order of this show holds %d to %d units, %d asked for", e.Min, e.Max, e.Asked)
}

// Is makes errors.Is(err, ErrOrderLimit) true.
func (e *OrderLimitError) Is(target error) bool { return target == ErrOrderLimit }

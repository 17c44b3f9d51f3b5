package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/simpay"
)

func TestHoldOutcome(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "accepted"},
		{fmt.Errorf("place: %w", domain.ErrSoldOut), "sold_out"},
		{&domain.SeatTakenError{}, "seat_taken"},
		{&domain.BuyerLimitError{Limit: 4}, "limit"},
		{&domain.OrderLimitError{}, "limit"},
		{&domain.QuotaError{}, "quota"},
		{&domain.VoucherError{}, "voucher"},
		{domain.ErrNotOnSale, "not_on_sale"},
		{&domain.ValidationError{}, "invalid"},
		{commands.ErrTooContended, "contended"},
		{commands.ErrForbidden, "forbidden"},
		{errors.New("connection reset"), "other"},
	} {
		if got := HoldOutcome(c.err); got != c.want {
			t.Errorf("HoldOutcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPaymentOutcome(t *testing.T) {
	for _, c := range []struct {
		err                error
		outcome, declClass string
	}{
		{nil, "confirmed", ""},
		{&simpay.DeclineError{Code: simpay.DeclineInsufficientFunds}, "declined", "insufficient_funds"},
		{&simpay.DeclineError{Code: simpay.DeclineFraudulent}, "declined", "fraud"},
		{&simpay.DeclineError{Code: "a_code_from_the_future"}, "declined", "other"},
		{commands.ErrPaymentDeclined, "declined", "unknown"},
		{commands.ErrInvalidPaymentToken, "invalid_token", ""},
		{domain.ErrHoldExpired, "hold_expired", ""},
		{errors.New("boom"), "other", ""},
	} {
		if o, d := PaymentOutcome(c.err); o != c.outcome || d != c.declClass {
			t.Errorf("PaymentOutcome(%v) = %q, %q; want %q, %q", c.err, o, d, c.outcome, c.declClass)
		}
	}
}

func TestCheckInOutcome(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, commands.OutcomeCheckedIn},
		{domain.ErrAlreadyCheckedIn, domain.RefusedAlreadyCheckedIn},
		{&domain.CheckInRefusedError{Reason: domain.RefusedWrongShow}, domain.RefusedWrongShow},
		{&domain.CheckInRefusedError{Reason: "made up"}, "other"},
		{domain.ErrTicketNotFound, "not_found"},
	} {
		if got := CheckInOutcome(c.err); got != c.want {
			t.Errorf("CheckInOutcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// A nil *Signals is the no-op of every port.
func TestSignals_Nil(t *testing.T) {
	var s *Signals
	s.Hold(nil)
	s.Payment(nil)
	s.AsyncPayment("confirmed", nil)
	s.CheckIn("code", nil)
	s.CheckInOutcome("scan", "duplicate")
	s.Replayed()
	s.MinPositionWait(time.Second, false)
	s.ExpirerRun(3, time.Now())
	s.ObserveDelivery(DeliverySucceeded, time.Second)
	s.Append("append", []string{"order.placed"}, time.Millisecond, nil)
}

// Labels take only the values the code lists, whatever a caller passes.
func TestSignals_BoundedLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(reg)
	s.ObserveDelivery(DeliverySucceeded, 10*time.Millisecond)
	s.ObserveDelivery("HTTP 503 from https://x.example/?secret", time.Second)
	s.CheckInOutcome("carrier pigeon", "made up")
	s.Append("append", []string{"order.expired", "Evil Type\n", strings.Repeat("a", 65)}, time.Millisecond, nil)
	s.Append("append", []string{"order.refunded"}, time.Millisecond, &commands.ConflictError{Stream: "x"})
	for _, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{s.deliveries.WithLabelValues(DeliverySucceeded), 1},
		{s.deliveries.WithLabelValues("other"), 1},
		{s.checkIns.WithLabelValues("other", "other"), 1},
		{s.appended.WithLabelValues("order.expired"), 1},
		{s.appended.WithLabelValues("other"), 2},
		{s.expiries, 1},
		{s.refunds, 0}, // the conflicting append wrote nothing
		{s.conflicts, 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%v = %v, want %v", c.c, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(s.deliveries); n != 2 {
		t.Errorf("delivery series = %d, want 2", n)
	}
}

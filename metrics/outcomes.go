package metrics

import (
	"errors"
	"slices"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// outcome is one row of an error-to-outcome table: the first whose match
// is true names the outcome.
type outcome struct {
	match func(error) bool
	name  string
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as[T error]() func(error) bool {
	return func(err error) bool { var t T; return errors.As(err, &t) }
}

// Outcomes shared by the tables: a refusal of the actor, bad input, the
// retries running out, and the rest.
var common = []outcome{
	{is(commands.ErrForbidden), "forbidden"},
	{is(domain.ErrUnauthenticated), "forbidden"},
	{as[*domain.ValidationError](), "invalid"},
	{is(commands.ErrTooContended), "contended"},
}

// holdOutcomes maps what PlaceOrder returns to ticketing_holds_total's
// outcome label.
var holdOutcomes = append([]outcome{
	{is(domain.ErrSoldOut), "sold_out"},
	{as[*domain.SeatTakenError](), "seat_taken"},
	{is(domain.ErrBuyerLimit), "limit"},
	{is(domain.ErrOrderLimit), "limit"},
	{is(domain.ErrQuotaExhausted), "quota"},
	{is(domain.ErrVoucherInvalid), "voucher"},
	{is(domain.ErrVoucherUsedUp), "voucher"},
	{is(domain.ErrVoucherNotFound), "voucher"},
	{is(domain.ErrNotOnSale), "not_on_sale"},
	{is(domain.ErrShowStarted), "not_on_sale"},
	{is(domain.ErrShowCancelled), "not_on_sale"},
	{is(domain.ErrTicketTypeOffSale), "not_on_sale"},
	{is(domain.ErrShowNotFound), "not_found"},
}, common...)

// HoldOutcome names the outcome of a hold request that ended with err:
// accepted, sold_out, seat_taken, limit (per buyer or per order), quota,
// voucher, not_on_sale, not_found, forbidden, invalid, contended or other.
func HoldOutcome(err error) string { return classify(err, "accepted", holdOutcomes) }

var paymentOutcomes = append([]outcome{
	{is(commands.ErrPaymentDeclined), "declined"},
	{is(commands.ErrInvalidPaymentToken), "invalid_token"},
	{is(domain.ErrHoldExpired), "hold_expired"},
	{is(domain.ErrOrderNotHeld), "not_held"},
	{is(domain.ErrShowCancelled), "show_cancelled"},
	{is(domain.ErrOrderNotFound), "not_found"},
	{is(domain.ErrNoPaymentNeeded), "not_needed"},
	{is(domain.ErrUnknownIntent), "unknown_intent"},
}, common...)

// asyncPaymentOutcomes are the outcomes of a provider's report
// (commands.PaymentOutcome) and of its failures.
var asyncPaymentOutcomes = []string{commands.OutcomeConfirmed, commands.OutcomeRefunded, commands.OutcomeRecorded,
	commands.OutcomeIgnored, "declined", "invalid_token", "hold_expired", "not_held", "show_cancelled", "not_found",
	"not_needed", "unknown_intent", "forbidden", "invalid", "contended"}

// declineClasses group decline codes (Stripe's names) into few classes.
var declineClasses = map[string]string{
	"insufficient_funds": "insufficient_funds", "card_velocity_exceeded": "insufficient_funds", "withdrawal_count_limit_exceeded": "insufficient_funds",
	"fraudulent": "fraud", "stolen_card": "fraud", "lost_card": "fraud", "pickup_card": "fraud", "merchant_blacklist": "fraud",
	"expired_card":  "expired_card",
	"incorrect_cvc": "incorrect_details", "incorrect_number": "incorrect_details", "invalid_cvc": "incorrect_details",
	"invalid_expiry_month": "incorrect_details", "invalid_expiry_year": "incorrect_details", "incorrect_zip": "incorrect_details",
	"generic_decline": "generic", "do_not_honor": "generic", "call_issuer": "generic", "card_not_supported": "generic",
	"transaction_not_allowed": "generic", "try_again_later": "generic",
}

// PaymentOutcome names the outcome of a payment that ended with err
// (confirmed, declined, invalid_token, hold_expired, not_held,
// show_cancelled, not_found, ... or other) and, for a decline, the class
// of its decline code (insufficient_funds, fraud, expired_card,
// incorrect_details, generic, other or unknown when the provider gave
// none); "" otherwise.
func PaymentOutcome(err error) (outcome, declineClass string) {
	outcome = classify(err, commands.OutcomeConfirmed, paymentOutcomes)
	if outcome != "declined" {
		return outcome, ""
	}
	var dc commands.DeclineCoder
	if !errors.As(err, &dc) {
		return outcome, "unknown"
	}
	if c, ok := declineClasses[dc.DeclineCode()]; ok {
		return outcome, c
	}
	return outcome, "other"
}

// checkInOutcomes are the labels of ticketing_checkins_total's outcome.
var checkInOutcomes = []string{commands.OutcomeCheckedIn, domain.RefusedAlreadyCheckedIn, domain.RefusedVoided,
	domain.RefusedTransferred, domain.RefusedWrongShow, domain.RefusedUnknownCode, domain.RefusedDuplicate,
	"not_found", "forbidden", "invalid", "contended"}

var checkInVias = []string{"ticket", "code", "scan"}

var checkInErrors = append([]outcome{
	{is(domain.ErrAlreadyCheckedIn), domain.RefusedAlreadyCheckedIn},
	{is(domain.ErrTicketVoided), domain.RefusedVoided},
	{is(domain.ErrTicketNotFound), "not_found"},
	{is(domain.ErrShowNotFound), "not_found"},
}, common...)

// CheckInOutcome names the outcome of a check-in that ended with err:
// checked_in, a refusal's reason (already_checked_in, voided, transferred,
// wrong_show, unknown_code, duplicate), not_found, forbidden, invalid,
// contended or other.
func CheckInOutcome(err error) string {
	var refused *domain.CheckInRefusedError
	if errors.As(err, &refused) {
		return oneOf(refused.Reason, checkInOutcomes)
	}
	return classify(err, commands.OutcomeCheckedIn, checkInErrors)
}

const appendConflict = "conflict"

// AppendOutcome names the outcome of an append: ok, conflict or error.
func AppendOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, commands.ErrConflict):
		return appendConflict
	}
	return "error"
}

var deliveryOutcomes = []string{DeliverySucceeded, DeliveryRetrying, DeliveryExhausted}

func classify(err error, ok string, table []outcome) string {
	if err == nil {
		return ok
	}
	for _, o := range table {
		if o.match(err) {
			return o.name
		}
	}
	return "other"
}

// oneOf returns v when it is one of known, else "other": a label never
// takes a value the code did not list.
func oneOf(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return "other"
}

// eventTypeLabel bounds an event type label: types are names in code
// ("order.placed"); anything longer or stranger is "other".
func eventTypeLabel(t string) string {
	if len(t) > 64 {
		return "other"
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c >= 'a' && c <= 'z' || c == '.' || c == '_' || c >= '0' && c <= '9') {
			return "other"
		}
	}
	return t
}

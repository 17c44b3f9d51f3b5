package writeapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// Limits are the request rates the write API allows. A nil Limiter allows
// everything.
type Limits struct {
	// SignInPerAccount throttles sign-ins by the email they name.
	SignInPerAccount Limiter
	// SignInPerAddress throttles sign-ins and sign-ups by client address.
	SignInPerAddress Limiter
	// OrdersPerBuyer throttles the holds (POST /v1/orders) of each user.
	OrdersPerBuyer Limiter
}

// WithLimits makes a throttle requests as l says, and returns a.
func (a *API) WithLimits(l Limits) *API {
	a.limits = l
	return a
}

// RateLimitedError says that a client sent more requests than it is
// allowed; it may retry after RetryAfter. Its message is for the client.
type RateLimitedError struct {
	// What names what was counted, e.g. "sign-in attempts for this account".
	What       string
	RetryAfter time.Duration
}

// Error says what was limited and when to retry, for the client.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many %s; retry in %d s", e.What, web.RetryAfterSeconds(e.RetryAfter))
}

// allow takes one request of key from l, or returns a *RateLimitedError.
func allow(l Limiter, key, what string) error {
	if l == nil {
		return nil
	}
	if ok, retry := l.Allow(key); !ok {
		return &RateLimitedError{What: what, RetryAfter: retry}
	}
	return nil
}

// throttled runs h only while the actor's requests stay within l.
func throttled(l func() Limiter, what string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		// The key is built only when there is a limiter to ask.
		if lim := l(); lim != nil {
			if err := allow(lim, "user:"+actor.UserID.String(), what); err != nil {
				return err
			}
		}
		return h(w, r, actor)
	}
}

// clientAddr names the client of r for rate limits and anonymous
// idempotency keys: the peer address of the connection (a proxy in front
// must be trusted to spread its clients, or be given a higher limit). An
// IPv6 client is its /64, the block one subscriber is given, so that
// hopping addresses within it does not help.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return strings.ToLower(host)
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}

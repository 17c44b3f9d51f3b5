package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// MaxURLBytes bounds an endpoint's URL.
const MaxURLBytes = 2048

// ErrAddressRefused is the failure of a connection to an address the
// Guard refuses (a DNS answer that changed since the URL was checked).
var ErrAddressRefused = errors.New("the address is loopback, private, link-local or otherwise not public")

// Guard keeps deliveries off the engine's own network (SSRF): an
// endpoint's URL must be http or https on a host whose every address is
// public, checked when the endpoint is registered and again, on the
// address actually dialled, at every connection (against DNS rebinding).
type Guard struct {
	// AllowPrivate lets loopback, private and link-local addresses
	// through (TICKETING_WEBHOOK_ALLOW_PRIVATE=1): for tests and private
	// deployments.
	AllowPrivate bool
	// LookupNetIP resolves host names; nil: net.DefaultResolver's.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// nonPublic are ranges that net/netip's predicates do not name.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds an IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// Public reports whether a is an address deliveries may go to.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func (g *Guard) allowed(a netip.Addr) bool { return g.AllowPrivate || Public(a) }

// Check validates raw as an endpoint URL and resolves its host, refusing
// it with a *domain.ValidationError on "url" when it is not http or https,
// carries credentials or a fragment, does not resolve, or resolves to an
// address the Guard refuses.
func (g *Guard) Check(ctx context.Context, raw string) error {
	bad := func(detail string) error {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "url", Detail: detail}}}
	}
	if raw == "" || len(raw) > MaxURLBytes {
		return bad(fmt.Sprintf("want an http or https URL of at most %d bytes", MaxURLBytes))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return bad("not an absolute URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("the scheme must be http or https")
	}
	if u.User != nil || u.Fragment != "" || u.Hostname() == "" {
		return bad("want a host, and no user, password or fragment")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := g.lookup(ctx, u.Hostname())
	if err != nil || len(addrs) == 0 {
		return bad("the host does not resolve")
	}
	for _, a := range addrs {
		if !g.allowed(a) {
			return bad("the host resolves to a loopback, private, link-local or otherwise non-public address")
		}
	}
	return nil
}

func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	if g.LookupNetIP != nil {
		return g.LookupNetIP(ctx, "ip", host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// control refuses, at connect time, an address the Guard refuses.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !g.allowed(ap.Addr()) {
		return ErrAddressRefused
	}
	return nil
}

// Client returns the HTTP client of deliveries: the Guard's check at
// every connection, no proxy (which would dial for it), no redirects
// followed, and timeout over each whole attempt.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: g.control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        time.Minute,
			MaxResponseHeaderBytes: 16 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

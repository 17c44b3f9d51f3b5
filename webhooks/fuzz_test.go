package webhooks_test

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/webhooks"
)

// FuzzGuard_Check: whatever the URL, an accepted one is http or https on
// a host whose address is public, when every name resolves to loopback.
func FuzzGuard_Check(f *testing.F) {
	for _, s := range []string{"https://93.184.215.14/x", "http://127.0.0.1/", "http://[::ffff:7f00:1]/", "http://0x7f.1/",
		"http://2130706433/", "http://[fe80::1%25eth0]/", "HTTP://93.184.215.14", "http://93.184.215.14:99999/", "ftp://a/",
		"http://a.test/", "//93.184.215.14/", "http://93.184.215.14\\@127.0.0.1/", "http://127.0.0.1#@93.184.215.14/"} {
		f.Add(s)
	}
	g := &webhooks.Guard{LookupNetIP: func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}}
	f.Fuzz(func(t *testing.T, raw string) {
		if g.Check(context.Background(), raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("accepted %q: %v", raw, err)
		}
		a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
		if err != nil || !webhooks.Public(a) {
			t.Fatalf("accepted %q, host %q", raw, u.Hostname())
		}
	})
}

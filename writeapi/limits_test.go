package writeapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"192.0.2.7:5555":                       "192.0.2.7",
		"[::ffff:192.0.2.7]:5555":              "192.0.2.7",
		"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1": "2001:db8:1:2::/64",
		"[2001:db8:1:2::1]:2":                  "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:2":                  "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":                    "fe80::/64",
		"not an address":                       "not an address",
	} {
		r := httptest.NewRequest("POST", "/v1/tokens", nil)
		r.RemoteAddr = remote
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", remote, got, want)
		}
	}
}

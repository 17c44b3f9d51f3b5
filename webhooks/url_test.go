package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/webhooks"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "10.0.0.1": false, "172.16.5.5": false, "192.168.0.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false, "100.64.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::7f00:1": false, "224.0.0.1": false, "255.255.255.255": false,
		"2002:7f00:1::": false, "198.18.0.1": false,
	} {
		if got := webhooks.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestGuard_Check(t *testing.T) {
	t.Parallel()
	// A resolver whose names resolve where the test says, and nowhere else.
	names := map[string][]netip.Addr{
		"public.test":   {netip.MustParseAddr("93.184.215.14")},
		"loopback.test": {netip.MustParseAddr("127.0.0.1")},
		"mixed.test":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.8")},
	}
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := names[host]; ok {
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	strict := &webhooks.Guard{LookupNetIP: lookup}
	open := &webhooks.Guard{LookupNetIP: lookup, AllowPrivate: true}
	for url, want := range map[string][2]bool{ // strict, open
		"https://public.test/hook":        {true, true},
		"http://93.184.215.14:8080/x?y=1": {true, true},
		"http://loopback.test/":           {false, true},
		"http://mixed.test/":              {false, true},
		"http://127.0.0.1/":               {false, true},
		"http://[::1]:9000/":              {false, true},
		"http://169.254.169.254/latest":   {false, true},
		"http://10.0.0.1/":                {false, true},
		"http://nowhere.test/":            {false, false},
		"ftp://public.test/":              {false, false},
		"file:///etc/passwd":              {false, false},
		"https://u:p@public.test/":        {false, false},
		"https://public.test/#frag":       {false, false},
		"public.test/hook":                {false, false},
		"":                                {false, false},
		"http:///nohost":                  {false, false},
		"javascript:alert(1)":             {false, false},
		"https://public.test/" + string(make([]byte, webhooks.MaxURLBytes)): {false, false},
	} {
		for i, g := range []*webhooks.Guard{strict, open} {
			err := g.Check(t.Context(), url)
			var inval *domain.ValidationError
			if err != nil && (!errors.As(err, &inval) || inval.Fields[0].Field != "url") {
				t.Errorf("%q: error %v is not a validation error on url", url, err)
			}
			if (err == nil) != want[i] {
				t.Errorf("%q (allow private %v): err = %v, want ok %v", url, i == 1, err, want[i])
			}
		}
	}
}

// The check at connect time: a name that resolved to a public address
// when the endpoint was registered and to loopback now (DNS rebinding)
// is refused when dialling.
func TestGuard_ClientRefusesAtConnect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, err := (&webhooks.Guard{}).Client(time.Second).Post(srv.URL, "application/json", nil)
	if !errors.Is(err, webhooks.ErrAddressRefused) || hits.Load() != 0 {
		t.Fatalf("err = %v, want ErrAddressRefused; %d requests reached the server", err, hits.Load())
	}
	res, err := (&webhooks.Guard{AllowPrivate: true}).Client(time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("with the allowance: %v", err)
	}
	res.Body.Close()
}

func TestBackoff_Delay(t *testing.T) {
	t.Parallel()
	b := webhooks.Backoff{First: 10 * time.Second, Max: time.Hour, Horizon: 24 * time.Hour}
	for n, full := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 10: time.Hour, 40: time.Hour} {
		for range 50 {
			if got := b.Delay(n); got < full/2 || got > full {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", n, got, full/2, full)
			}
		}
	}
}

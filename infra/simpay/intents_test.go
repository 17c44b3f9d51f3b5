package simpay_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/infra/simpay"
	"github.com/ticketing/ticketing/paysig"
)

func TestIntents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := []byte("whsec_test_test_test_test_test_32")
	p := simpay.New()
	s := simpay.NewIntents(p, secret)
	order := uuid.New()
	in, err := s.StartIntent(ctx, "k", order, 1500)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.StartIntent(ctx, "k", order, 1500)
	if err != nil || again != in {
		t.Fatalf("StartIntent replay = %v, %v; want %v", again, err, in)
	}
	if _, err := s.StartIntent(ctx, "k2", order, 0); err == nil {
		t.Fatal("an intent of 0 cents was opened")
	}

	failed, err := s.Complete(ctx, in.ID, simpay.TokenDeclinedInsufficientFunds, 0)
	if err != nil || failed.Event.Type != paysig.IntentFailed || failed.Event.Data.Object.LastPaymentError.DeclineCode != simpay.DeclineInsufficientFunds {
		t.Fatalf("declined attempt: %+v, %v", failed.Event, err)
	}
	ok, err := s.Complete(ctx, in.ID, simpay.TokenVisa, 0)
	obj := ok.Event.Data.Object
	if err != nil || ok.Event.Type != paysig.IntentSucceeded || obj.Amount != 1500 || obj.Metadata.OrderID != order.String() {
		t.Fatalf("approved attempt: %+v, %v", ok.Event, err)
	}
	if ch := p.Charges(); len(ch) != 1 || ch[0].ID != obj.LatestCharge || ch[0].AmountCents != 1500 {
		t.Fatalf("ledger: %+v, want one charge %s", ch, obj.LatestCharge)
	}
	if dup, _ := s.Complete(ctx, in.ID, simpay.TokenVisa, 0); string(dup.Body) != string(ok.Body) || len(p.Charges()) != 1 {
		t.Fatal("completing a succeeded intent again charged again or changed its webhook")
	}
	if st, _ := s.Intent(in.ID); st.Status != simpay.IntentSucceeded || st.ChargeID != obj.LatestCharge {
		t.Fatalf("intent state: %+v", st)
	}

	// Delivered by a real POST, signed.
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e paysig.Event
		if err := json.Unmarshal(body, &e); err != nil {
			got <- err
		} else {
			got <- paysig.Verify(r.Header.Get(paysig.Header), body, [][]byte{secret}, time.Now(), paysig.DefaultTolerance)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	status, err := s.Deliver(ctx, srv.URL, ok)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Deliver = %d, %v", status, err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the delivered webhook does not verify: %v", err)
	}
}

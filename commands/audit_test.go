package commands_test

import (
	"context"
	"testing"

	"github.com/ticketing/ticketing/domain"
)

// audit runs a domain.Auditor over the fixture's whole log, as `ticketing
// audit` does, and fails the test on any violation.
func (f *fixture) audit(t *testing.T) {
	t.Helper()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	a := domain.NewAuditor(reg)
	after := domain.Start
	for {
		recs, err := f.store.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			a.Add(rec)
		}
		after = recs[len(recs)-1].Position
	}
	r := a.Report()
	if r.Events == 0 {
		t.Fatal("audit: the log is empty")
	}
	for _, v := range r.Violations {
		t.Errorf("audit: %v", v)
	}
}

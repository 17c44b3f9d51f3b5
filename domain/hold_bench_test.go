package domain_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// BenchmarkShow_Hold is the hot path of a hold on a show without rules:
// one general-admission item, decided and applied.
func BenchmarkShow_Hold(b *testing.B) {
	big := created()
	big.Sections = []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: domain.MaxCapacity}}
	big.MaxUnitsPerBuyer = 0
	s := domain.NewShow()
	s.Load([]domain.Event{big, published()}, 2)
	items := []domain.ItemRequest{{Section: "floor", Quantity: 2}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%50_000 == 0 {
			s = domain.NewShow()
			s.Load([]domain.Event{big, published()}, 2)
		}
		if err := s.Hold(domain.HoldRequest{OrderID: uuid.New(), BuyerID: buyerID, Items: items}, t0, ttl); err != nil {
			b.Fatal(err)
		}
	}
}

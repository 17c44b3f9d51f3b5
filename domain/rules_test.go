package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

var (
	adult = domain.TicketType{Code: "adult", Name: "Adult", Section: "floor", PriceCents: 500}
	child = domain.TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 300}
	vip   = domain.TicketType{Code: "vip", Name: "VIP", Section: "balcony", PriceCents: 2000, Hidden: true}
	early = domain.TicketType{Code: "early", Name: "Early bird", Section: "floor", PriceCents: 400,
		OnSaleFrom: t0.Add(-time.Hour), OnSaleUntil: t0.Add(time.Hour)}
)

func typeSet(t domain.TicketType) domain.TicketTypeSet {
	return domain.TicketTypeSet{ShowID: showID, TicketType: t}
}

func voucher(code, kind string, pct int, off int64, uses int, types ...string) domain.VoucherCreated {
	return domain.VoucherCreated{ShowID: showID, At: t0, Voucher: domain.Voucher{Code: code, Kind: kind, PercentOff: pct,
		AmountOffCents: off, MaxUses: uses, TicketTypes: types}}
}

func quota(code string, units int, sections []string, types ...string) domain.QuotaSet {
	return domain.QuotaSet{ShowID: showID, Quota: domain.Quota{Code: code, Units: units, Sections: sections, TicketTypes: types}}
}

func ruled(extra ...domain.Event) []domain.Event {
	return append([]domain.Event{created(), published(), typeSet(adult), typeSet(child), typeSet(vip), typeSet(early)}, extra...)
}

// held is a SeatsHeld of one buyer from its items, seats, voucher and quotas.
func held(items []domain.HeldItem, seats []domain.HeldSeat, voucher string, quotas ...domain.QuotaUse) domain.SeatsHeld {
	e := domain.SeatsHeld{ShowID: showID, OrderID: orderA, BuyerID: buyerID, Items: items, Seats: seats, HeldAt: t0,
		ExpiresAt: t0.Add(ttl), HoldTTLSeconds: int64(ttl / time.Second), Voucher: voucher, Quotas: quotas}
	e.TotalCents, _ = domain.TotalOf(items, seats)
	return e
}

func holdItems(items []domain.ItemRequest, voucher string) func(s *domain.Show) error {
	return func(s *domain.Show) error {
		return s.Hold(domain.HoldRequest{OrderID: orderA, BuyerID: buyerID, Items: items, Voucher: voucher}, t0, ttl)
	}
}

func TestShow_HoldRules(t *testing.T) {
	vipSeat := domain.SeatRef{Section: "balcony", Row: "A", Seat: 1}
	runShowCases(t, []showCase{
		{name: "a typed item pays its type's price, the section comes from the type",
			given: ruled(), when: holdItems([]domain.ItemRequest{{TicketType: "child", Quantity: 2}}, ""),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 2, UnitPriceCents: 300, TicketType: "child"}}, nil, "")}},
		{name: "an untyped item pays the section's price",
			given: ruled(), when: holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, ""),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500}}, nil, "")}},
		{name: "an unknown type is invalid",
			given: ruled(), when: holdItems([]domain.ItemRequest{{TicketType: "senior", Quantity: 1}}, ""), errAs: new(*domain.ValidationError)},
		{name: "a type of another section is invalid",
			given: ruled(), when: holdItems([]domain.ItemRequest{{Section: "balcony", TicketType: "adult", Quantity: 1}}, ""),
			errAs: new(*domain.ValidationError)},
		{name: "a type outside its window is off sale",
			given: ruled(typeSet(domain.TicketType{Code: "late", Name: "Late", Section: "floor", PriceCents: 1, OnSaleFrom: t0.Add(time.Minute)})),
			when:  holdItems([]domain.ItemRequest{{TicketType: "late", Quantity: 1}}, ""), err: domain.ErrTicketTypeOffSale},
		{name: "a type inside its window sells",
			given: ruled(), when: holdItems([]domain.ItemRequest{{TicketType: "early", Quantity: 1}}, ""),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 400, TicketType: "early"}}, nil, "")}},
		{name: "a hidden type without its voucher is invalid",
			given: ruled(), when: func(s *domain.Show) error {
				return s.Hold(domain.HoldRequest{OrderID: orderA, BuyerID: buyerID, Seats: []domain.SeatRef{vipSeat}, SeatTypes: []string{"vip"}}, t0, ttl)
			}, errAs: new(*domain.ValidationError)},
		{name: "an access voucher unlocks a hidden type and takes a use",
			given: ruled(voucher("PRESALE", domain.VoucherAccess, 0, 0, 5, "vip")), when: func(s *domain.Show) error {
				return s.Hold(domain.HoldRequest{OrderID: orderA, BuyerID: buyerID, Seats: []domain.SeatRef{vipSeat}, SeatTypes: []string{"vip"},
					Voucher: "presale"}, t0, ttl)
			},
			then: []domain.Event{held(nil, []domain.HeldSeat{{SeatRef: vipSeat, PriceCents: 2000, TicketType: "vip"}}, "PRESALE")}},
		{name: "a percent voucher rounds the discount down to the cent",
			given: ruled(typeSet(domain.TicketType{Code: "odd", Name: "Odd", Section: "floor", PriceCents: 999}),
				voucher("TEN", domain.VoucherPercent, 15, 0, 5)),
			when: holdItems([]domain.ItemRequest{{TicketType: "odd", Quantity: 2}}, "ten"),
			// 15% of 999 is 149.85: 149 off, 850 paid per unit.
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 2, UnitPriceCents: 850, TicketType: "odd"}}, nil, "TEN")}},
		{name: "a fixed voucher never makes a price negative",
			given: ruled(voucher("BIG", domain.VoucherFixed, 0, 450, 5)),
			when:  holdItems([]domain.ItemRequest{{TicketType: "child", Quantity: 1}, {TicketType: "adult", Quantity: 1}}, "BIG"),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 0, TicketType: "child"},
				{Section: "floor", Quantity: 1, UnitPriceCents: 50, TicketType: "adult"}}, nil, "BIG")}},
		{name: "a voucher limited to types discounts only those",
			given: ruled(voucher("KIDS", domain.VoucherPercent, 50, 0, 5, "child")),
			when:  holdItems([]domain.ItemRequest{{TicketType: "child", Quantity: 1}, {TicketType: "adult", Quantity: 1}}, "KIDS"),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 150, TicketType: "child"},
				{Section: "floor", Quantity: 1, UnitPriceCents: 500, TicketType: "adult"}}, nil, "KIDS")}},
		{name: "a voucher that applies to no unit is refused",
			given: ruled(voucher("KIDS", domain.VoucherPercent, 50, 0, 5, "child")),
			when:  holdItems([]domain.ItemRequest{{TicketType: "adult", Quantity: 1}}, "KIDS"), err: domain.ErrVoucherInvalid},
		{name: "an unknown voucher is refused",
			given: ruled(), when: holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, "NOPE"), err: domain.ErrVoucherInvalid},
		{name: "a voucher on a show without rules is refused",
			given: []domain.Event{created(), published()}, when: holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, "X"),
			err: domain.ErrVoucherInvalid},
		{name: "a disabled voucher is refused",
			given: ruled(voucher("TEN", domain.VoucherPercent, 10, 0, 5), domain.VoucherDisabled{ShowID: showID, Code: "TEN", At: t0}),
			when:  holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, "TEN"), err: domain.ErrVoucherInvalid},
		{name: "an expired voucher is refused",
			given: ruled(domain.VoucherCreated{ShowID: showID, Voucher: domain.Voucher{Code: "OLD", Kind: domain.VoucherPercent, PercentOff: 10,
				MaxUses: 5, ValidUntil: t0}}),
			when: holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, "OLD"), err: domain.ErrVoucherInvalid},
		{name: "a used-up voucher is refused",
			given: ruled(voucher("ONE", domain.VoucherPercent, 10, 0, 1),
				held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 450}}, nil, "ONE")),
			when: func(s *domain.Show) error {
				return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}},
					Voucher: "ONE"}, t0, ttl)
			}, errAs: new(*domain.VoucherUsedUpError)},
		{name: "a released hold gives its voucher use back",
			given: ruled(voucher("ONE", domain.VoucherPercent, 10, 0, 1),
				held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 450}}, nil, "ONE"),
				domain.SeatsReleased{ShowID: showID, OrderID: orderA, Reason: domain.ReleaseExpired, Voucher: "ONE",
					Items: []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 450}}}),
			when: func(s *domain.Show) error {
				return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}},
					Voucher: "ONE"}, t0, ttl)
			},
			then: []domain.Event{func() domain.SeatsHeld {
				e := held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 450}}, nil, "ONE")
				e.OrderID = orderB
				return e
			}()}},
		{name: "a quota counts units of its sections and types",
			given: ruled(quota("EARLY", 2, nil, "child", "early")),
			when:  holdItems([]domain.ItemRequest{{TicketType: "child", Quantity: 1}, {Section: "floor", Quantity: 1}}, ""),
			then: []domain.Event{held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 300, TicketType: "child"},
				{Section: "floor", Quantity: 1, UnitPriceCents: 500}}, nil, "", domain.QuotaUse{Quota: "EARLY", Units: 1})}},
		{name: "a quota short of units refuses the hold",
			given: ruled(quota("ALL", 2, []string{"floor", "balcony"}),
				held([]domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500}}, nil, "", domain.QuotaUse{Quota: "ALL", Units: 1})),
			when: func(s *domain.Show) error {
				return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Seats: []domain.SeatRef{vipSeat, {Section: "balcony", Row: "A", Seat: 2}}}, t0, ttl)
			}, errAs: new(*domain.QuotaError)},
		{name: "a per-order minimum refuses a smaller hold",
			given: ruled(domain.OrderLimitsChanged{ShowID: showID, MinUnitsPerOrder: 2, MaxUnitsPerOrder: 3}),
			when:  holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 1}}, ""), errAs: new(*domain.OrderLimitError)},
		{name: "a per-order maximum refuses a larger hold",
			given: ruled(domain.OrderLimitsChanged{ShowID: showID, MinUnitsPerOrder: 1, MaxUnitsPerOrder: 1}),
			when:  holdItems([]domain.ItemRequest{{Section: "floor", Quantity: 2}}, ""), err: domain.ErrOrderLimit},
	})
}

func TestShow_RuleChanges(t *testing.T) {
	now := t0
	runShowCases(t, []showCase{
		{name: "a new ticket type", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.AddTicketType(adult) }, then: []domain.Event{typeSet(adult)}},
		{name: "a type code twice", given: []domain.Event{created(), typeSet(adult)},
			when: func(s *domain.Show) error { return s.AddTicketType(adult) }, err: domain.ErrTicketTypeExists},
		{name: "a type of no section", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				t := adult
				t.Section = "roof"
				return s.AddTicketType(t)
			}, errAs: new(*domain.ValidationError)},
		{name: "a hostile type", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.AddTicketType(domain.TicketType{Code: "a b", Name: "\x00", Section: "floor", PriceCents: -1,
					OnSaleFrom: t0, OnSaleUntil: t0})
			}, errAs: new(*domain.ValidationError)},
		{name: "a type on a cancelled show", given: []domain.Event{created(), domain.ShowCancelled{ShowID: showID, At: t0}},
			when: func(s *domain.Show) error { return s.AddTicketType(adult) }, err: domain.ErrShowCancelled},
		{name: "a patched type", given: []domain.Event{created(), typeSet(adult)},
			when: func(s *domain.Show) error {
				p := int64(700)
				return s.ChangeTicketType("adult", domain.TicketTypePatch{PriceCents: &p})
			}, then: []domain.Event{typeSet(domain.TicketType{Code: "adult", Name: "Adult", Section: "floor", PriceCents: 700})}},
		{name: "a patch that changes nothing", given: []domain.Event{created(), typeSet(adult)},
			when: func(s *domain.Show) error {
				p := int64(500)
				return s.ChangeTicketType("adult", domain.TicketTypePatch{PriceCents: &p})
			}},
		{name: "a patch of no type", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.ChangeTicketType("adult", domain.TicketTypePatch{}) }, err: domain.ErrTicketTypeNotFound},
		{name: "a quota", given: []domain.Event{created(), typeSet(adult)},
			when: func(s *domain.Show) error {
				return s.SetQuota(domain.Quota{Code: "Q", Units: 5, Sections: []string{"balcony"}, TicketTypes: []string{"adult"}})
			}, then: []domain.Event{quota("Q", 5, []string{"balcony"}, "adult")}},
		{name: "a quota of nothing, of no section, of no type", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.SetQuota(domain.Quota{Code: "Q", Units: 0, Sections: []string{"roof", "roof"}, TicketTypes: []string{"x"}})
			}, errAs: new(*domain.ValidationError)},
		{name: "per-order limits", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.SetOrderLimits(2, 4) },
			then: []domain.Event{domain.OrderLimitsChanged{ShowID: showID, MinUnitsPerOrder: 2, MaxUnitsPerOrder: 4}}},
		{name: "per-order limits out of order", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.SetOrderLimits(5, 4) }, errAs: new(*domain.ValidationError)},
		{name: "per-order limits as they are", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.SetOrderLimits(1, domain.MaxUnitsPerOrder) }},
		{name: "a voucher, its code upper-cased", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.CreateVoucher(domain.Voucher{Code: "ten", Kind: domain.VoucherPercent, PercentOff: 10, MaxUses: 3}, now)
			}, then: []domain.Event{voucher("TEN", domain.VoucherPercent, 10, 0, 3)}},
		{name: "a voucher code twice", given: []domain.Event{created(), voucher("TEN", domain.VoucherPercent, 10, 0, 3)},
			when: func(s *domain.Show) error {
				return s.CreateVoucher(domain.Voucher{Code: "Ten", Kind: domain.VoucherFixed, AmountOffCents: 1, MaxUses: 3}, now)
			}, err: domain.ErrVoucherExists},
		{name: "hostile vouchers", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.CreateVoucher(domain.Voucher{Code: "TEN", Kind: domain.VoucherPercent, PercentOff: 101, MaxUses: 0}, now)
			}, errAs: new(*domain.ValidationError)},
		{name: "an access voucher without types", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.CreateVoucher(domain.Voucher{Code: "PRE", Kind: domain.VoucherAccess, MaxUses: 3}, now)
			}, errAs: new(*domain.ValidationError)},
		{name: "a fixed voucher past the largest price", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.CreateVoucher(domain.Voucher{Code: "X", Kind: domain.VoucherFixed, AmountOffCents: domain.MaxPriceCents + 1, MaxUses: 3}, now)
			}, errAs: new(*domain.ValidationError)},
		{name: "a disabled voucher", given: []domain.Event{created(), voucher("TEN", domain.VoucherPercent, 10, 0, 3)},
			when: func(s *domain.Show) error { return s.DisableVoucher("ten", now) },
			then: []domain.Event{domain.VoucherDisabled{ShowID: showID, Code: "TEN", At: now}}},
		{name: "disabling twice", given: []domain.Event{created(), voucher("TEN", domain.VoucherPercent, 10, 0, 3),
			domain.VoucherDisabled{ShowID: showID, Code: "TEN", At: now}},
			when: func(s *domain.Show) error { return s.DisableVoucher("TEN", now) }},
		{name: "disabling no voucher", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.DisableVoucher("TEN", now) }, err: domain.ErrVoucherNotFound},
	})
}

func TestVoucher_Price(t *testing.T) {
	for _, c := range []struct {
		v     domain.Voucher
		price int64
		want  int64
	}{
		{domain.Voucher{Kind: domain.VoucherPercent, PercentOff: 100}, domain.MaxPriceCents, 0},
		{domain.Voucher{Kind: domain.VoucherPercent, PercentOff: 33}, 1, 1},
		{domain.Voucher{Kind: domain.VoucherPercent, PercentOff: 33}, domain.MaxPriceCents, domain.MaxPriceCents - 33_000_000},
		{domain.Voucher{Kind: domain.VoucherFixed, AmountOffCents: domain.MaxPriceCents}, 5, 0},
		{domain.Voucher{Kind: domain.VoucherAccess}, 5, 5},
	} {
		if got := c.v.Price(c.price); got != c.want {
			t.Errorf("%+v.Price(%d) = %d, want %d", c.v, c.price, got, c.want)
		}
	}
}

func TestShow_SnapshotKeepsRules(t *testing.T) {
	s := domain.NewShow()
	history := ruled(quota("Q", 5, []string{"floor"}), voucher("TEN", domain.VoucherPercent, 10, 0, 3),
		domain.OrderLimitsChanged{ShowID: showID, MinUnitsPerOrder: 1, MaxUnitsPerOrder: 4},
		held([]domain.HeldItem{{Section: "floor", Quantity: 2, UnitPriceCents: 450}}, nil, "TEN", domain.QuotaUse{Quota: "Q", Units: 2}))
	s.Load(history, int64(len(history)))
	r := restoredShow(t, s)
	if got, want := r.Snapshot(), s.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored:\n got %#v\nwant %#v", got, want)
	}
	if q := r.Quotas(); len(q) != 1 || q[0].Taken != 2 {
		t.Fatalf("quotas = %+v, want Q with 2 taken", q)
	}
	if v := r.Vouchers(); len(v) != 1 || v[0].Uses != 1 {
		t.Fatalf("vouchers = %+v, want TEN with 1 use", v)
	}
	if lo, hi := r.OrderLimits(); lo != 1 || hi != 4 {
		t.Fatalf("order limits = %d..%d, want 1..4", lo, hi)
	}
}

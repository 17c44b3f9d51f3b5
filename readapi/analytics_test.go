package readapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/projections"
)

func TestAPI_Analytics(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	m := w.managedShows("Analytics")
	show, draft, orgToken := m.show, m.draft, m.orgToken
	for name, c := range m.access(map[string]accessCase{
		"an unknown show": {uuid.New(), m.admin, http.StatusNotFound},
	}) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := w.get("/v1/shows/"+c.show.String()+"/analytics", c.token)
			if c.want != http.StatusOK {
				r.problem(t, c.want)
				return
			}
			var got projections.AnalyticsView
			r.ok(t, &got)
			if c.show == draft {
				if len(got.Hours) != 0 || got.Totals.Holds != 0 {
					t.Errorf("a draft's analytics: %+v", got)
				}
				return
			}
			tot := got.Totals
			if got.ShowID != show || len(got.Hours) != 1 || !got.Hours[0].Hour.Equal(t0) || tot.Holds != 2 || tot.UnitsHeld != 6 ||
				tot.Confirmed != 1 || tot.UnitsSold != 4 || tot.RevenueCents != 3*1000+3000 || tot.Paid != 1 ||
				tot.Conversion == nil || *tot.Conversion != 0.5 || tot.MedianSecondsToPay == nil || *tot.MedianSecondsToPay != 60 {
				t.Errorf("got %+v, totals %+v", got, tot)
			}
		})
	}
	t.Run("the shape", func(t *testing.T) {
		t.Parallel()
		var v struct {
			Totals json.RawMessage   `json:"totals"`
			Hours  []json.RawMessage `json:"hours"`
		}
		r := w.get("/v1/shows/"+show.String()+"/analytics", orgToken)
		r.ok(t, &v)
		if got, want := keys(t, r.body), sorted("show_id", "totals", "hours"); !reflect.DeepEqual(got, want) {
			t.Errorf("keys %v, want %v", got, want)
		}
		figures := []string{"orders_held", "units_held", "orders_confirmed", "units_sold", "revenue_cents", "orders_expired", "orders_cancelled", "orders_paid",
			"conversion", "median_seconds_to_pay"}
		if got, want := keys(t, v.Totals), sorted(figures...); !reflect.DeepEqual(got, want) {
			t.Errorf("totals keys %v, want %v", got, want)
		}
		if got, want := keys(t, v.Hours[0]), sorted(append(figures, "hour")...); !reflect.DeepEqual(got, want) {
			t.Errorf("hour keys %v, want %v", got, want)
		}
	})
}

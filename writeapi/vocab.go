package writeapi

// issue 16: vocab. One name per thing in requests and responses: the old
// input names accepted for one release, the current position of a no-op
// write, If-Match on a show, Location kept on an idempotent replay. The
// renames are listed in docs/vocabulary.md.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// Section kinds, as the read API renders them (projections.SectionView).
const (
	kindGeneralAdmission = "general_admission"
	kindSeated           = "seated"
)

// rowRequest is a row of a seated section: row names it and seat_count is
// its number of seats, numbered from 1. label and seats are their names
// before issue 16, accepted for one release.
type rowRequest struct {
	Row       *string `json:"row"`
	SeatCount *int    `json:"seat_count"`
	Label     *string `json:"label"` // deprecated: row
	Seats     *int    `json:"seats"` // deprecated: seat_count
}

// sectionSpec makes the i-th section of a create request a domain spec, or
// says which of its fields are wrong: a kind other than the rows say, a
// field given under its new and its old name.
func sectionSpec(i int, s sectionRequest) (domain.SectionSpec, []domain.FieldError) {
	f := "sections[" + strconv.Itoa(i) + "]"
	var bad []domain.FieldError
	if s.PriceCents == nil {
		bad = append(bad, domain.FieldError{Field: f + ".price_cents", Detail: "is required"})
	}
	switch s.Kind {
	case "":
	case kindSeated:
		if len(s.Rows) == 0 {
			bad = append(bad, domain.FieldError{Field: f + ".rows", Detail: "a seated section needs rows"})
		}
	case kindGeneralAdmission:
		if len(s.Rows) > 0 {
			bad = append(bad, domain.FieldError{Field: f + ".kind", Detail: "a general_admission section has a capacity, not rows: give kind seated"})
		}
	default:
		bad = append(bad, domain.FieldError{Field: f + ".kind", Detail: `must be "general_admission" or "seated"`})
	}
	spec := domain.SectionSpec{Name: s.Name, Capacity: s.Capacity}
	if s.PriceCents != nil {
		spec.PriceCents = *s.PriceCents
	}
	for j, r := range s.Rows {
		rf := f + ".rows[" + strconv.Itoa(j) + "]"
		label, e1 := oneOf(r.Row, r.Label, rf+".row", "label")
		seats, e2 := oneOf(r.SeatCount, r.Seats, rf+".seat_count", "seats")
		bad = append(append(bad, e1...), e2...)
		spec.Rows = append(spec.Rows, domain.RowSpec{Label: label, Seats: seats})
	}
	return spec, bad
}

// oneOf returns the value given under a field's name or under its old
// name; giving both is an error naming field.
func oneOf[T any](v, old *T, field, oldName string) (T, []domain.FieldError) {
	var zero T
	switch {
	case v != nil && old != nil:
		return zero, []domain.FieldError{{Field: field, Detail: "given twice: " + oldName + " is its old name, give only the new one"}}
	case v != nil:
		return *v, nil
	case old != nil:
		return *old, nil
	}
	return zero, nil
}

// rowField matches the domain's names of a row's fields, which predate
// issue 16: label and seats.
var rowField = regexp.MustCompile(`^(sections\[\d+\]\.rows\[\d+\])\.(label|seats)$`)

// renameFields gives the field errors of a create request the API's names
// (row, seat_count) where the domain uses its own (label, seats).
func renameFields(err error) error {
	var inval *domain.ValidationError
	if !errors.As(err, &inval) {
		return err
	}
	out := &domain.ValidationError{Fields: make([]domain.FieldError, len(inval.Fields))}
	for i, fe := range inval.Fields {
		if m := rowField.FindStringSubmatch(fe.Field); m != nil {
			fe.Field = m[1] + map[string]string{"label": ".row", "seats": ".seat_count"}[m[2]]
		}
		out.Fields[i] = fe
	}
	return out
}

// headKey is the context key of the log head of a request (serve).
type headKey struct{}

// WithLogHead has no-op writes, which append nothing, answer the head of
// the log as their position, which a read may wait for, rather than "0";
// it returns a.
func (a *API) WithLogHead(h LogHead) *API {
	a.head = h
	return a
}

// LogHead tells where the global log ends. The event store satisfies it.
type LogHead interface {
	// Head returns the position of the last event of the log, or
	// domain.Start when it is empty.
	Head(ctx context.Context) (domain.Position, error)
}

// position renders the position of a write: the head of the log for a
// no-op, which appended nothing, when the API has one (WithLogHead).
func position(ctx context.Context, p domain.Position) string {
	h, ok := ctx.Value(headKey{}).(LogHead)
	if !p.IsZero() || !ok || h == nil {
		return p.String()
	}
	head, err := h.Head(ctx)
	if err != nil {
		return p.String() // the write is done; the position only helps reads
	}
	return head.String()
}

// ifMatch reads the If-Match header of a show route into the context
// (commands.WithIfVersion): each entity tag is a version in quotes, as the
// ETag of GET /v1/shows/{id}; "*" and no header ask nothing.
func ifMatch(r *http.Request) (context.Context, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return r.Context(), nil
	}
	var versions []int64
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
		if err != nil || len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' || v < 0 {
			return nil, &badRequest{detail: `If-Match must be the ETag of the show, its version in quotes such as "3"`,
				fields: []domain.FieldError{{Field: "If-Match", Detail: `must be entity tags such as "3" (the ETag of GET /v1/shows/{id}), or *`}}}
		}
		versions = append(versions, v)
	}
	return commands.WithIfVersion(r.Context(), versions...), nil
}

// currentETag sets the ETag of the show's current version when err says
// that If-Match named another (a *commands.VersionMismatchError), so that
// the 412 tells the client what to send; it returns err.
func currentETag(w http.ResponseWriter, err error) error {
	var vm *commands.VersionMismatchError
	if errors.As(err, &vm) {
		w.Header().Set("ETag", web.ETag(vm.Actual))
	}
	return err
}

// replayLocation is the Location of a stored 201 answered again: what the
// handler set the first time, from the request's path and the answer's id.
func replayLocation(r *http.Request, stored *StoredResponse) string {
	if stored.Status != http.StatusCreated {
		return ""
	}
	switch p := r.URL.Path; {
	case p == "/v1/shows" || p == "/v1/orders":
		var body struct {
			ID uuid.UUID `json:"id"`
		}
		if json.Unmarshal(stored.Body, &body) != nil || body.ID == uuid.Nil {
			return ""
		}
		return fmt.Sprintf("%s/%s", p, body.ID)
	case strings.HasPrefix(p, "/v1/shows/") && strings.HasSuffix(p, "/waitlist"):
		return p
	}
	return ""
}

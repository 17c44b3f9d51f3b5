package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Page sizes of the lists.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// maxAttempts is how many attempts Delivery lists, newest first.
	maxAttempts = 100
	// MaxDescriptionBytes bounds an endpoint's description.
	MaxDescriptionBytes = 256
	// SecretOverlap is how long the previous secret still signs after a
	// rotation.
	SecretOverlap = 24 * time.Hour
)

// Service is what the APIs call: endpoints and their deliveries, each
// owned by its organizer and seen by admins, never by anyone else.
type Service struct {
	Store   Store
	Guard   *Guard
	Backoff Backoff
	Now     func() time.Time
	NewID   func() uuid.UUID
	// Wake, when set, is told of deliveries made due (the dispatcher's).
	Wake func()
}

// NewEndpoint is a request to register an endpoint.
type NewEndpoint struct {
	URL         string
	Description string
	EventTypes  []string
}

// Page asks for one page of a list: at most Limit items (0:
// DefaultLimit) after Cursor, the previous page's next cursor.
type Page struct {
	Limit  int
	Cursor string
}

func manager(actor domain.Actor) bool {
	return actor.Role == domain.RoleOrganizer || actor.Role == domain.RoleAdmin
}

// Create registers an endpoint of actor, an organizer (for their shows) or
// an admin (for every show), with a new secret, which only this answer
// shows.
func (s *Service) Create(ctx context.Context, actor domain.Actor, req NewEndpoint) (Endpoint, error) {
	if !manager(actor) {
		return Endpoint{}, ErrForbidden
	}
	var fields []domain.FieldError
	var inval *domain.ValidationError
	if err := s.Guard.Check(ctx, req.URL); errors.As(err, &inval) {
		fields = append(fields, inval.Fields...)
	} else if err != nil {
		return Endpoint{}, err
	}
	fields = append(fields, checkTypes(req.EventTypes)...)
	if len(req.Description) > MaxDescriptionBytes || !printable(req.Description) {
		fields = append(fields, domain.FieldError{Field: "description",
			Detail: fmt.Sprintf("want at most %d bytes of UTF-8 text without control characters", MaxDescriptionBytes)})
	}
	if len(fields) > 0 {
		return Endpoint{}, &domain.ValidationError{Fields: fields}
	}
	secret, err := newSecret()
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{ID: s.NewID(), OwnerID: actor.UserID, AllShows: actor.Role == domain.RoleAdmin, URL: req.URL,
		Description: req.Description, EventTypes: req.EventTypes, Secret: secret, Enabled: true, CreatedAt: s.Now().UTC()}
	if err := s.Store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

func checkTypes(types []string) []domain.FieldError {
	if len(types) == 0 || len(types) > len(EventTypes) {
		return []domain.FieldError{{Field: "event_types", Detail: fmt.Sprintf("want 1 to %d event types", len(EventTypes))}}
	}
	for i, t := range types {
		if !deliverable(t) {
			return []domain.FieldError{{Field: "event_types[" + strconv.Itoa(i) + "]",
				Detail: "unknown event type; want one of " + strings.Join(EventTypes, ", ")}}
		}
		if slices.Index(types, t) != i {
			return []domain.FieldError{{Field: "event_types[" + strconv.Itoa(i) + "]", Detail: "listed twice"}}
		}
	}
	return nil
}

func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// newSecret returns a new signing secret: whsec_ and 32 random bytes.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Endpoint returns endpoint id, if actor may see it; else ErrNotFound.
func (s *Service) Endpoint(ctx context.Context, actor domain.Actor, id uuid.UUID) (Endpoint, error) {
	if !manager(actor) {
		return Endpoint{}, ErrForbidden
	}
	e, err := s.Store.Endpoint(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	if e.OwnerID != actor.UserID && actor.Role != domain.RoleAdmin {
		return Endpoint{}, ErrNotFound
	}
	return e, nil
}

// Endpoints returns a page of actor's endpoints (an admin's: everyone's)
// and the next page's cursor, empty after the last.
func (s *Service) Endpoints(ctx context.Context, actor domain.Actor, p Page) ([]Endpoint, string, error) {
	if !manager(actor) {
		return nil, "", ErrForbidden
	}
	limit, after, err := p.parse("w")
	if err != nil {
		return nil, "", err
	}
	owner := actor.UserID
	if actor.Role == domain.RoleAdmin {
		owner = uuid.Nil
	}
	list, err := s.Store.Endpoints(ctx, owner, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	return pageOf(list, limit, "w", func(e Endpoint) int64 { return e.Seq })
}

// Disable stops deliveries to endpoint id; its pending ones wait.
func (s *Service) Disable(ctx context.Context, actor domain.Actor, id uuid.UUID) (Endpoint, error) {
	e, err := s.Endpoint(ctx, actor, id)
	if err != nil || !e.Enabled {
		return e, err
	}
	e.Enabled, e.DisabledAt = false, s.Now().UTC()
	e.DisabledReason = "disabled by " + string(actor.Role) + " " + actor.UserID.String()
	return e, s.Store.UpdateEndpoint(ctx, e, time.Time{})
}

// Enable resumes deliveries to endpoint id: its pending ones are due at
// once, each with a fresh retry horizon.
func (s *Service) Enable(ctx context.Context, actor domain.Actor, id uuid.UUID) (Endpoint, error) {
	e, err := s.Endpoint(ctx, actor, id)
	if err != nil || e.Enabled {
		return e, err
	}
	e.Enabled, e.DisabledAt, e.DisabledReason = true, time.Time{}, ""
	if err := s.Store.UpdateEndpoint(ctx, e, s.Now().Add(s.Backoff.Horizon)); err != nil {
		return Endpoint{}, err
	}
	s.wake()
	return e, nil
}

// RotateSecret gives endpoint id a new secret, which only this answer
// shows; the previous one signs too for SecretOverlap.
func (s *Service) RotateSecret(ctx context.Context, actor domain.Actor, id uuid.UUID) (Endpoint, error) {
	e, err := s.Endpoint(ctx, actor, id)
	if err != nil {
		return Endpoint{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return Endpoint{}, err
	}
	e.PreviousSecret, e.PreviousUntil, e.Secret = e.Secret, s.Now().Add(SecretOverlap).UTC(), secret
	return e, s.Store.UpdateEndpoint(ctx, e, time.Time{})
}

// Deliveries returns a page of endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, actor domain.Actor, endpoint uuid.UUID, p Page) ([]Delivery, string, error) {
	limit, before, err := p.parse("d")
	if err != nil {
		return nil, "", err
	}
	if _, err := s.Endpoint(ctx, actor, endpoint); err != nil {
		return nil, "", err
	}
	list, err := s.Store.Deliveries(ctx, endpoint, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	return pageOf(list, limit, "d", func(d Delivery) int64 { return d.Seq })
}

// Delivery returns delivery id and its latest attempts, newest first.
func (s *Service) Delivery(ctx context.Context, actor domain.Actor, id uuid.UUID) (Delivery, []Attempt, error) {
	if !manager(actor) {
		return Delivery{}, nil, ErrForbidden
	}
	d, attempts, err := s.Store.Delivery(ctx, id, maxAttempts)
	if err != nil {
		return Delivery{}, nil, err
	}
	if _, err := s.Endpoint(ctx, actor, d.EndpointID); err != nil {
		return Delivery{}, nil, err
	}
	return d, attempts, nil
}

// Redeliver sends delivery id again, now, with a fresh retry horizon,
// whatever became of it; the payload and its event id are the same.
// ErrDisabled when its endpoint is disabled.
func (s *Service) Redeliver(ctx context.Context, actor domain.Actor, id uuid.UUID) (Delivery, error) {
	d, _, err := s.Delivery(ctx, actor, id)
	if err != nil {
		return Delivery{}, err
	}
	e, err := s.Store.Endpoint(ctx, d.EndpointID)
	if err != nil {
		return Delivery{}, err
	}
	if !e.Enabled {
		return Delivery{}, ErrDisabled
	}
	now := s.Now().UTC()
	if err := s.Store.Redeliver(ctx, id, now, now.Add(s.Backoff.Horizon)); err != nil {
		return Delivery{}, err
	}
	s.wake()
	d.State, d.DueAt, d.GiveUpAt = StatePending, now, now.Add(s.Backoff.Horizon)
	return d, nil
}

func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

// parse checks p for a list whose cursors are of kind.
func (p Page) parse(kind string) (limit int, seq int64, err error) {
	limit = p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return 0, 0, &domain.ValidationError{Fields: []domain.FieldError{{Field: "limit", Detail: fmt.Sprintf("want 1 to %d", MaxLimit)}}}
	}
	if p.Cursor == "" {
		return limit, 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	k, n, ok := strings.Cut(string(raw), ":")
	seq, perr := strconv.ParseInt(n, 10, 64)
	if err != nil || !ok || k != kind || perr != nil || seq < 1 {
		return 0, 0, &domain.ValidationError{Fields: []domain.FieldError{{Field: "cursor", Detail: "not a cursor of this list"}}}
	}
	return limit, seq, nil
}

// pageOf cuts a list fetched with limit+1 to limit and makes the cursor
// after its last item (by seq), if there are more.
func pageOf[T any](list []T, limit int, kind string, seq func(T) int64) ([]T, string, error) {
	if len(list) <= limit {
		return list, "", nil
	}
	last := seq(list[limit-1])
	return list[:limit], base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(last, 10))), nil
}

package projections

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Page sizes of the lists.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page asks for one page of a list: at most Limit items (zero means
// DefaultLimit) after Cursor, the NextCursor of the previous page (empty for
// the first page). A bad limit or cursor fails with a *domain.ValidationError
// on the field "limit" or "cursor".
type Page struct {
	Limit  int
	Cursor string
}

// key is where a page starts: after the item with this sort key. Lists sort
// by the position of the event that created the item (seq), then its id,
// then its index within that event.
type key struct {
	seq int64
	id  uuid.UUID
	idx int
}

// Cursor kinds, so that a cursor of one list is refused by another.
const (
	cursorShows   = "s"
	cursorOrders  = "o"
	cursorTickets = "t"
)

// start is the key before every item.
var start = key{seq: -1}

func (k key) cursor(kind string) string {
	raw := kind + ":" + strconv.FormatInt(k.seq, 10) + ":" + k.id.String() + ":" + strconv.Itoa(k.idx)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parse checks p and returns its limit and starting key.
func (p Page) parse(kind string) (int, key, error) {
	limit := p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return 0, key{}, invalid("limit", fmt.Sprintf("must be between 1 and %d", MaxLimit))
	}
	if p.Cursor == "" {
		return limit, start, nil
	}
	bad := invalid("cursor", "is not a cursor of this list")
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil {
		return 0, key{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || parts[0] != kind {
		return 0, key{}, bad
	}
	var k key
	if k.seq, err = strconv.ParseInt(parts[1], 10, 64); err != nil || k.seq < 0 {
		return 0, key{}, bad
	}
	if k.id, err = uuid.Parse(parts[2]); err != nil {
		return 0, key{}, bad
	}
	if k.idx, err = strconv.Atoi(parts[3]); err != nil || k.idx < 0 {
		return 0, key{}, bad
	}
	return limit, k, nil
}

func invalid(field, detail string) error {
	return &domain.ValidationError{Fields: []domain.FieldError{{Field: field, Detail: detail}}}
}

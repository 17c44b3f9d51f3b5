package projections

import (
	"context"
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

// Page sizes of the seats of a section (Queries.Seats), in seats.
const (
	DefaultSeatLimit = 1000
	MaxSeatLimit     = 5000
)

// Page asks for one page of a list: at most Limit items (zero means
// DefaultLimit; for the seats of a section, DefaultSeatLimit) after
// Cursor, the NextCursor of the previous page (empty for the first page). A
// bad limit or cursor fails with a *domain.ValidationError on the field
// "limit" or "cursor".
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
	cursorSeats   = "e"
)

// start is the key before every item.
var start = key{seq: -1}

func (k key) cursor(kind string) string {
	raw := kind + ":" + strconv.FormatInt(k.seq, 10) + ":" + k.id.String() + ":" + strconv.Itoa(k.idx)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parse checks p and returns its limit and starting key.
func (p Page) parse(kind string) (int, key, error) {
	limit, err := p.limit(DefaultLimit, MaxLimit)
	if err != nil {
		return 0, key{}, err
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

// limit returns the limit of p: def when it is zero, and a
// *domain.ValidationError when it is not between 1 and max.
func (p Page) limit(def, max int) (int, error) {
	limit := p.Limit
	if limit == 0 {
		limit = def
	}
	if limit < 1 || limit > max {
		return 0, invalid("limit", fmt.Sprintf("must be between 1 and %d", max))
	}
	return limit, nil
}

// seatPos is where a page of a section's seats starts: after the seat
// (row, seat) of section (its creation index) of show. The cursor names the
// show and the section, so that one section's cursor is refused by another.
type seatPos struct {
	show    uuid.UUID
	section int
	row     int
	seat    int
}

// seatStart is the key before every seat of a section.
func seatStart(show uuid.UUID, section int) seatPos {
	return seatPos{show: show, section: section, row: -1}
}

func (k seatPos) cursor() string {
	raw := cursorSeats + ":" + k.show.String() + ":" + strconv.Itoa(k.section) + ":" + strconv.Itoa(k.row) + ":" + strconv.Itoa(k.seat)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseSeats checks p as a page of the seats of section of show and
// returns its limit and starting key.
func (p Page) parseSeats(show uuid.UUID, section int) (int, seatPos, error) {
	limit, err := p.limit(DefaultSeatLimit, MaxSeatLimit)
	if err != nil {
		return 0, seatPos{}, err
	}
	if p.Cursor == "" {
		return limit, seatStart(show, section), nil
	}
	bad := invalid("cursor", "is not a cursor of this section's seats")
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil {
		return 0, seatPos{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 5 || parts[0] != cursorSeats || parts[1] != show.String() || parts[2] != strconv.Itoa(section) {
		return 0, seatPos{}, bad
	}
	k := seatPos{show: show, section: section}
	if k.row, err = strconv.Atoi(parts[3]); err != nil || k.row < 0 || k.row >= domain.MaxRowsPerSect {
		return 0, seatPos{}, bad
	}
	if k.seat, err = strconv.Atoi(parts[4]); err != nil || k.seat < 1 || k.seat > domain.MaxSeatsPerRow {
		return 0, seatPos{}, bad
	}
	return limit, k, nil
}

func invalid(field, detail string) error {
	return &domain.ValidationError{Fields: []domain.FieldError{{Field: field, Detail: detail}}}
}

// queryPage runs a query of a page's rows (limit+1 at the most) and returns
// the items scan makes of the first limit, with the cursor of kind after
// the last when there were more. what names the query in its errors.
func queryPage[T any](ctx context.Context, db DB, what, kind string, limit int, scan func(Rows) (T, key, error), sql string, args ...any) (List[T], error) {
	out := List[T]{Items: []T{}}
	var keys []key
	err := queryEach(ctx, db, func(rows Rows) error {
		v, k, err := scan(rows)
		out.Items = append(out.Items, v)
		keys = append(keys, k)
		return err
	}, sql, args...)
	if err != nil {
		return List[T]{}, fmt.Errorf("query %s: %w", what, err)
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = keys[limit-1].cursor(kind)
	}
	return out, nil
}

// queryEach runs a query and calls each on every row it returns, until
// each fails; the error is the query's, each's or the rows'.
func queryEach(ctx context.Context, db DB, each func(Rows) error, sql string, args ...any) error {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

package readapi

import "time"

// Signals receives what the read API measures (issue 16: ops); the
// engine's metrics implement it. Without WithSignals nothing is measured.
type Signals interface {
	// MinPositionWait observes a read that waited d for its X-Min-Position
	// and reached it (caughtUp) or gave up after MinPositionWait.
	MinPositionWait(d time.Duration, caughtUp bool)
}

// WithSignals has the API report its waits to s; it returns a.
func (a *API) WithSignals(s Signals) *API {
	a.signals = s
	return a
}

// observeWait reports a wait for an X-Min-Position that began at start and
// ended with ok and err; a failed wait (the client left, the database
// failed) is no signal.
func (a *API) observeWait(start time.Time, ok bool, err error) {
	if a.signals != nil && err == nil {
		a.signals.MinPositionWait(time.Since(start), ok)
	}
}

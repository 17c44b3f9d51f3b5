package commands

import (
	"context"
	"fmt"
	"slices"
)

// ifVersionKey is the context key of WithIfVersion.
type ifVersionKey struct{}

// WithIfVersion returns ctx asking the show changes run under it (edit,
// publish, cancel) to refuse, with a *VersionMismatchError and without
// writing, a show whose version is none of versions: HTTP's If-Match
// (issue 16: vocab).
func WithIfVersion(ctx context.Context, versions ...int64) context.Context {
	return context.WithValue(ctx, ifVersionKey{}, slices.Clone(versions))
}

// VersionMismatchError says that a show was not at a version the request
// was made for (WithIfVersion).
type VersionMismatchError struct {
	// Expected are the versions the request accepts; Actual is the show's.
	Expected []int64
	Actual   int64
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("the show is at version %d, not %v", e.Actual, e.Expected)
}

// checkIfVersion returns a *VersionMismatchError when ctx asks for versions
// (WithIfVersion) and actual is none of them.
func checkIfVersion(ctx context.Context, actual int64) error {
	want, ok := ctx.Value(ifVersionKey{}).([]int64)
	if !ok || slices.Contains(want, actual) {
		return nil
	}
	return &VersionMismatchError{Expected: want, Actual: actual}
}

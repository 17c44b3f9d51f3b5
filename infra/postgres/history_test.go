package postgres_test

import (
	"testing"

	"github.com/ticketing/ticketing/infra/eventstoretest"
)

func TestStore_Export(t *testing.T) {
	t.Parallel()
	eventstoretest.RunExport(t, func(t *testing.T) eventstoretest.Exporter { return newStore(t) })
}

package memory_test

import (
	"testing"

	"github.com/ticketing/ticketing/infra/eventstoretest"
	"github.com/ticketing/ticketing/infra/memory"
)

func TestStore_Export(t *testing.T) {
	t.Parallel()
	eventstoretest.RunExport(t, func(*testing.T) eventstoretest.Exporter { return memory.NewStore() })
}

package projections

import (
	"embed"
	"io/fs"
)

// schema holds the migrations of the read-model tables: goose SQL files
// named by their version, numbered among infra/postgres's own.
//
//go:embed schema/*.sql
var schema embed.FS

// Schema returns the migrations that create and change the read-model
// tables the projectors write and the queries read. The migrator applies
// them together with the other migrations, in the order of their versions.
func Schema() fs.FS {
	sub, err := fs.Sub(schema, "schema")
	if err != nil {
		panic(err) // "schema" is a valid path
	}
	return sub
}

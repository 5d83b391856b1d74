// Package migrations holds Laurel's numbered SQL migrations, embedded so the
// binary can migrate any database it is pointed at.
package migrations

import "embed"

// FS holds the goose migration files (NNNN_name.sql).
//
//go:embed *.sql
var FS embed.FS

package lti

import "github.com/laurel-edu/laurel/internal/safetext"

// truncate is safetext.Truncate, Laurel's one truncation (by characters,
// never by bytes), under the short name this package's messages use.
func truncate(s string, n int) string { return safetext.Truncate(s, n) }

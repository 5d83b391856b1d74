package testenv

import "time"

// Set is set, for the black-box tests.
func (c *Clock) Set(t time.Time) { c.set(t) }

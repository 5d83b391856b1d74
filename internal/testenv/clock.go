package testenv

import (
	"sync"
	"time"
)

// Clock is the test clock to inject where a service takes a Now func
// (issuance.Service.Now, jobs.Worker.Now, lti.Tool.Now, canvas.Options.Now).
// Its zero value follows the real time; NewClock stops it at a given time.
// Advance moves either kind forward. Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	off     time.Duration // added to the real time while running
	stopped bool
	at      time.Time // the time while stopped
}

// NewClock returns a clock stopped at t: it reads t until Advance or set.
func NewClock(t time.Time) *Clock { return &Clock{stopped: true, at: t} }

// Now is the clock's time; pass the method value as a Now func.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.at
	}
	return time.Now().Add(c.off)
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		c.at = c.at.Add(d)
	} else {
		c.off += d
	}
}

// set stops the clock at t.
func (c *Clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped, c.at = true, t
}

// Package backoff is the one capped exponential delay every retry loop of
// Argus uses (camera pulls, segment index appends, uploads).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff doubles its delay from Min up to Max on each Next, with up to 10 %
// jitter so that many retriers started together spread out. The zero value
// is not usable: set Min and Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next is the delay before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.cur < b.Min {
		b.cur = b.Min
	}
	d := b.cur
	if j := int64(d / 10); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	b.cur = min(b.cur*2, b.Max)
	return min(d, b.Max)
}

// Reset starts over at Min (after a success).
func (b *Backoff) Reset() { b.cur = 0 }

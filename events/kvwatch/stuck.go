package kvwatch

import (
	"fmt"
	"sync"
	"time"
)

// A watch is stuck when
//   - a revision known to exist has not been delivered within the lag, and
//     nothing else was delivered within the lag either: the
//     caller's own acknowledged write (Wrote) or the bucket's last revision
//     as the server reported it (WithServerCheck). The lag runs from when
//     the revision became known, never from before the watch started, and
//     while the initial values are still coming from the latest delivery (a
//     large bucket takes a while to load and is not stuck for that);
//   - nothing at all came for the quiet limit (WithQuiet).
//
// The server's last revision may name a message that no longer exists
// (expired, purged) and that no watch can deliver: every revision up to the
// one the server reported just before a watch started counts as delivered
// once that watch's initial values are in.

// maxExpected bounds the revisions awaited; the oldest decide anyway.
const maxExpected = 1024

// expected is a revision a watch must deliver.
type expected struct {
	rev  uint64
	at   time.Time // when it became known
	what string    // for the log
}

// progress is what the current watch delivered against what it should have.
type progress struct {
	mu         sync.Mutex
	lag, quiet time.Duration
	started    time.Time // the current watch's start
	last       time.Time // its latest delivery (an entry or the marker)
	current    bool      // its initial values are in
	delivered  uint64    // the highest revision it delivered or covered
	expect     []expected
}

func (p *progress) init(lag, quiet time.Duration) { p.lag, p.quiet = lag, quiet }

// start: a new watch starts from nothing delivered; revisions awaited are
// still awaited.
func (p *progress) start(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started, p.last, p.current, p.delivered = now, now, false, 0
}

// want records a revision known to exist since at. A revision awaited
// already, or a lower one, is covered by what is awaited: the watch
// delivers in revision order. So expect stays ordered by revision and time.
func (p *progress) want(rev uint64, at time.Time, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rev <= p.delivered || len(p.expect) >= maxExpected {
		return
	}
	if n := len(p.expect); n > 0 && p.expect[n-1].rev >= rev {
		return
	}
	p.expect = append(p.expect, expected{rev: rev, at: at, what: what})
}

// got records a delivered revision.
func (p *progress) got(rev uint64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = now
	p.delivered = max(p.delivered, rev)
	p.pruneLocked()
}

// caughtUp records the end of the initial values; they cover every revision
// up to base (0: unknown).
func (p *progress) caughtUp(base uint64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.current = now, true
	p.delivered = max(p.delivered, base)
	p.pruneLocked()
}

func (p *progress) pruneLocked() {
	i := 0
	for i < len(p.expect) && p.expect[i].rev <= p.delivered {
		i++
	}
	p.expect = p.expect[i:]
}

// stuck says why the watch is stuck at now, or "".
func (p *progress) stuck(now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.expect) > 0 {
		e := p.expect[0]
		from := later(e.at, p.started)
		if !p.current {
			from = later(e.at, p.last)
		}
		// Overdue, and nothing else came either: a watch that keeps
		// delivering is slow (a loaded machine), not stuck, and watching
		// again would only add load.
		if now.Sub(from) > p.lag && now.Sub(p.last) > p.lag {
			return fmt.Sprintf("%s (revision %d) not delivered within %s", e.what, e.rev, p.lag)
		}
	}
	if p.quiet > 0 && now.Sub(p.last) > p.quiet {
		return fmt.Sprintf("nothing delivered for %s", p.quiet)
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

package snapshot

import (
	"context"
	"time"
)

// flightKey is what requests share a grab and its JPEG by.
type flightKey struct {
	key   string
	width int
}

// flight is one grab: under way until done is closed, then its result,
// kept for CacheFor if it succeeded.
type flight struct {
	done    chan struct{}
	jpg     []byte
	err     error
	at      time.Time // when it ended
	callers int       // requests it answered or is to answer (tests)
}

// share answers a request for key and width: with the JPEG of a grab that
// ended less than CacheFor ago, by joining a grab under way, or by starting
// one. The grab runs on its own, bounded by Timeout, so that a caller that
// gives up (ctx) does not fail the others; its result still fills the
// cache.
func (g *Grabber) share(ctx context.Context, key string, width int, grab func(context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // a request already given up starts no grab
	}
	k := flightKey{key, width}
	g.mu.Lock()
	now := g.now()
	f := g.flights[k]
	if f != nil && isDone(f) && now.Sub(f.at) >= g.o.CacheFor {
		f = nil // stale
	}
	if f == nil {
		g.sweepLocked(now)
		f = &flight{done: make(chan struct{})}
		g.flights[k] = f
		go g.run(ctx, k, f, grab)
	}
	f.callers++
	g.mu.Unlock()

	select {
	case <-f.done:
		return f.jpg, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *Grabber) run(ctx context.Context, k flightKey, f *flight, grab func(context.Context) ([]byte, error)) {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.o.Timeout)
	defer cancel()
	if g.hookGrab != nil {
		g.hookGrab(k.key, k.width)
	}
	jpg, err := grab(gctx) // its errors wrap context.DeadlineExceeded past Timeout
	g.mu.Lock()
	defer g.mu.Unlock()
	f.jpg, f.err, f.at = jpg, err, g.now()
	if (err != nil || g.o.CacheFor < 0) && g.flights[k] == f {
		delete(g.flights, k) // failures are not cached: the next request tries again
	}
	close(f.done)
}

func isDone(f *flight) bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// sweepLocked drops stale JPEGs, at most once a CacheFor (or a second),
// so that keys and widths asked for once do not pile up.
func (g *Grabber) sweepLocked(now time.Time) {
	if now.Sub(g.swept) < max(g.o.CacheFor, time.Second) {
		return
	}
	g.swept = now
	for k, f := range g.flights {
		if isDone(f) && now.Sub(f.at) >= g.o.CacheFor {
			delete(g.flights, k)
		}
	}
}

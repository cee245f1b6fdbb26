// Package kvwatch keeps a view of a JetStream KV bucket current: it watches
// every key and watches again whenever the watch is stuck.
//
// A KV watch is an ordered consumer on one server. When that server dies the
// watch goes silent rather than failing, and the view it feeds goes stale
// (a key deleted on one node keeps working on another, a dead node's lease
// looks held). The signs of a stuck watch are in stuck.go; a stuck watch is
// replaced by a new one, whose initial values are delivered again so the
// caller rebuilds its view.
package kvwatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxStartWait bounds one attempt to start a watch once short attempts have
// failed (the cluster may just be slow).
const maxStartWait = 4 * time.Second

// Watcher follows one bucket. Its callbacks run on the goroutine of Run, one
// at a time.
type Watcher struct {
	kv        jetstream.KeyValue
	apply     func(e jetstream.KeyValueEntry, initial bool)
	onCurrent func()
	log       *slog.Logger
	lag       time.Duration // see WithLag
	quiet     time.Duration // see WithQuiet; 0: off
	check     time.Duration // see WithServerCheck; 0: off
	progress  progress
}

// New returns a watcher of every key of kv that hands each entry to apply
// (deletes and purges too: see e.Operation()). initial is true for the
// values a watch starts with, false for later updates. Run starts it.
func New(kv jetstream.KeyValue, apply func(e jetstream.KeyValueEntry, initial bool), opts ...Option) *Watcher {
	w := &Watcher{kv: kv, apply: apply, log: slog.Default(), lag: 500 * time.Millisecond}
	for _, o := range opts {
		o(w)
	}
	w.progress.init(w.lag, w.quiet)
	return w
}

// Wrote tells the watcher that the caller's write of revision rev was
// acknowledged: a watch that has not delivered it within the lag is stuck.
// Safe to call from any goroutine, before Run too.
func (w *Watcher) Wrote(rev uint64) { w.progress.want(rev, time.Now(), "own write") }

// Run follows the bucket until ctx ends. Call it once.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if w.check > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); w.checkServer(ctx) }()
	}
	// Starting a watch right after a server died can hang (its request was
	// lost with the old leader) while a new attempt succeeds: short
	// attempts first, longer ones should the cluster just be slow.
	wait := w.lag
	for ctx.Err() == nil {
		base := w.baseRevision(ctx)
		wctx, cancel := context.WithCancel(ctx) // the watch lives as long as wctx
		kw, err := watchWithin(wctx, w.kv, wait)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return
			}
			w.log.Info("kv watch not started", "bucket", w.kv.Bucket(), "err", err, "waited", wait)
			wait = min(2*wait, maxStartWait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		wait = w.lag
		w.drain(ctx, kw, base)
		// Stopping deletes the watch's consumer, an API call that hangs for
		// the client's whole timeout when that consumer's server is dead:
		// the next watch must not wait for it.
		go func() { kw.Stop(); cancel() }()
	}
}

// watchWithin starts a watch of every key, giving up after d.
func watchWithin(ctx context.Context, kv jetstream.KeyValue, d time.Duration) (jetstream.KeyWatcher, error) {
	type result struct {
		w   jetstream.KeyWatcher
		err error
	}
	ch := make(chan result, 1)
	go func() {
		w, err := kv.WatchAll(ctx)
		ch <- result{w, err}
	}()
	select {
	case r := <-ch:
		return r.w, r.err
	case <-time.After(d):
		go func() { // stop it should it still start
			if r := <-ch; r.w != nil {
				r.w.Stop()
			}
		}()
		return nil, errors.New("watch not started in time")
	}
}

// drain applies one watch's entries until it ends or is stuck. The initial
// values are held back until all are in, so that a watch that gets stuck
// halfway never hands the caller half a view.
func (w *Watcher) drain(ctx context.Context, kw jetstream.KeyWatcher, base uint64) {
	w.progress.start(time.Now())
	tick := time.NewTicker(w.lag / 5)
	defer tick.Stop()
	var initial []jetstream.KeyValueEntry
	current := false
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-kw.Updates():
			if !ok {
				w.log.Info("kv watch ended: watching again", "bucket", w.kv.Bucket())
				return
			}
			switch {
			case e == nil && current: // only one marker is sent; never mind
			case e == nil:
				current = true
				w.progress.caughtUp(base, time.Now())
				for _, e := range initial {
					w.apply(e, true)
				}
				initial = nil
				if w.onCurrent != nil {
					w.onCurrent()
				}
			case !current:
				w.progress.got(e.Revision(), time.Now())
				initial = append(initial, e)
			default:
				w.progress.got(e.Revision(), time.Now())
				w.apply(e, false)
			}
		case now := <-tick.C:
			if why := w.progress.stuck(now); why != "" {
				w.log.Info("kv watch stuck: watching again", "bucket", w.kv.Bucket(), "why", why)
				return
			}
		}
	}
}

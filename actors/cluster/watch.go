package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A KV watch is an ordered consumer on one server. When that server dies
// the watch goes silent rather than failing, and the view it feeds (who is
// alive, who holds what) goes stale. Two signs tell a stuck watch: this
// node's own acknowledged write has not come back through it within
// watchLag (heartbeats and renewals write every few hundred ms), or nothing
// came at all for quietWatch. Either way it is started again.

const (
	watchLag   = 500 * time.Millisecond
	quietWatch = time.Second
)

// ownWrites tracks this node's latest acknowledged write to one bucket and
// the highest revision its watch delivered.
type ownWrites struct {
	mu        sync.Mutex
	rev       uint64
	at        time.Time
	delivered uint64
}

func (o *ownWrites) wrote(rev uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rev > o.rev {
		o.rev, o.at = rev, time.Now()
	}
}

func (o *ownWrites) deliver(rev uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delivered = max(o.delivered, rev)
}

// behind: a write acknowledged watchLag ago has not been delivered.
func (o *ownWrites) behind(now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rev > o.delivered && now.Sub(o.at) > watchLag
}

// watch follows both buckets; it returns once their current values are in.
func (m *Manager) watch(ctx, runCtx context.Context) error {
	nodesIn, leasesIn := make(chan struct{}), make(chan struct{})
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.follow(runCtx, m.nodes, &m.nodeWrites, nodesIn, m.onNode) }()
	go func() { defer m.wg.Done(); m.follow(runCtx, m.leases, &m.leaseWrites, leasesIn, m.onLease) }()
	for _, ch := range []chan struct{}{nodesIn, leasesIn} {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// follow applies every update of kv to apply until ctx ends, watching again
// whenever the watch is stuck or ends. in is closed once the first watch's
// current values are in.
func (m *Manager) follow(ctx context.Context, kv jetstream.KeyValue, own *ownWrites, in chan struct{}, apply func(jetstream.KeyValueEntry, bool)) {
	first := true
	// Starting a watch right after a server died can hang (its request was
	// lost with the old leader) while a new attempt succeeds: short
	// attempts first, longer ones should the cluster just be slow.
	wait := watchLag
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx) // the watcher lives as long as wctx
		w, err := watchWithin(wctx, kv, wait)
		if err != nil {
			cancel()
			m.cfg.Log.Info("kv watch not started", "bucket", kv.Bucket(), "err", err, "waited", wait)
			wait = min(2*wait, 4*quietWatch)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		wait = watchLag
		m.drain(ctx, kv.Bucket(), w, own, apply, func() {
			if first {
				first = false
				close(in)
			}
		})
		// Stopping deletes the watch's consumer, an API call that hangs for
		// the client's whole timeout when that consumer's server is dead:
		// the next watch must not wait for it.
		go func() { w.Stop(); cancel() }()
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

// drain applies one watcher's updates until it ends or is stuck.
func (m *Manager) drain(ctx context.Context, bucket string, w jetstream.KeyWatcher, own *ownWrites, apply func(jetstream.KeyValueEntry, bool), current func()) {
	tick := time.NewTicker(watchLag / 5)
	defer tick.Stop()
	last := time.Now()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			last = time.Now()
			if e == nil {
				initial = false
				current()
				continue
			}
			own.deliver(e.Revision())
			apply(e, initial)
		case now := <-tick.C:
			if own.behind(now) {
				m.cfg.Log.Info("kv watch missed this node's own write: watching again", "bucket", bucket)
				return
			}
			if now.Sub(last) > quietWatch {
				m.cfg.Log.Info("kv watch quiet: watching again", "bucket", bucket)
				return
			}
		}
	}
}

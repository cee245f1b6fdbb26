package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/kvwatch"
	"github.com/nats-io/nats.go/jetstream"
)

// Both buckets are followed by kvwatch, which watches again when a watch is
// stuck. Heartbeats and renewals write every few hundred ms, so two signs
// tell it: this node's own acknowledged write has not come back within
// watchLag, or nothing came at all for quietWatch.

const (
	watchLag   = 500 * time.Millisecond
	quietWatch = time.Second
)

// bucketWatch follows one bucket; in is closed once its first values are in.
type bucketWatch struct {
	*kvwatch.Watcher
	in chan struct{}
}

// follow makes the watcher of kv feeding apply. It is made before the first
// heartbeat, whose revision it must see, and run by watch.
func (m *Manager) follow(kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry, bool)) *bucketWatch {
	in := make(chan struct{})
	return &bucketWatch{in: in, Watcher: kvwatch.New(kv, apply, kvwatch.WithLog(m.cfg.Log),
		kvwatch.WithLag(watchLag), kvwatch.WithQuiet(quietWatch), kvwatch.OnCurrent(sync.OnceFunc(func() { close(in) })))}
}

// watch runs both watchers until runCtx ends; it returns once their current
// values are in.
func (m *Manager) watch(ctx, runCtx context.Context) error {
	watches := []*bucketWatch{m.nodesWatch, m.leasesWatch}
	for _, bw := range watches {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); bw.Run(runCtx) }()
	}
	for _, bw := range watches {
		select {
		case <-bw.in:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

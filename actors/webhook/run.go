package webhook

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/hook"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/nats-io/nats.go/jetstream"
)

// runner is a webhook's deliveries under way on this node.
type runner struct {
	cancel context.CancelFunc
	of     string // what it delivers with: url, filters, secret
}

type (
	// gone: the endpoint answered 410 (the runner stopped).
	gone struct{ gen, status int }
	// ended: the runner stopped by itself (err nil after gone).
	ended struct {
		gen int
		err error
	}
	// restart: try the runner again after a failure.
	restart struct{ gen int }
)

// CursorKey is a webhook's cursor in the delivery bucket.
func CursorKey(id string) string { return "webhook." + id }

// restartAfter is the wait before a failed runner starts again.
const restartAfter = 5 * time.Second

func (a *Actor) sync(replay bool) { a.syncFrom(replay, 0) }

// syncFrom keeps the deliveries in step with the state: running while the
// webhook is registered and enabled (restarted when its url, filters or
// secret change), started again from a sequence after a replay.
func (a *Actor) syncFrom(replay bool, from uint64) {
	want := a.state.Registered && a.state.Enabled && a.deps.Cursors != nil && a.self != nil
	of := a.state.URL + "\n" + strings.Join(a.state.Events, ",") + "\n" + string(a.state.SealedSecret) + "\n" + strconv.Itoa(int(a.state.concurrency()))
	if a.run != nil && (!want || a.run.of != of || replay) {
		a.stopRunner()
	}
	if a.deps.Cursors != nil && replay {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := delivery.Reset(ctx, a.deps.Cursors, CursorKey(a.ref.ID), from-1); err != nil {
			a.logger().Warn("webhook cursor not written", "webhook", a.ref.ID, "err", err)
		}
		cancel()
	}
	if !want || a.run != nil {
		return
	}
	a.startRunner(of)
}

func (a *Actor) startRunner(of string) {
	a.restart++
	ctx, cancel := context.WithCancel(context.Background())
	a.run = &runner{cancel: cancel, of: of}
	gen, engine, self, deps, id := a.restart, a.engine, a.self, a.deps, a.ref.ID
	url, filters, sealed, created := a.state.URL, slices.Clone(a.state.Events), a.state.SealedSecret, a.state.CreatedSeq
	concurrency := int(a.state.concurrency())
	log := a.logger().With("webhook", id)
	go func() {
		err := hook.Run(ctx, deps.Hooks(log), hook.Target{CursorKey: CursorKey(id), URL: url, Sealed: sealed, After: created,
			Concurrency: concurrency, OnAttempt: a.log.add,
			Match:  func(n payload.Notification) bool { return payload.Match(filters, n.Type) },
			OnGone: func() { engine.Send(self, gone{gen: gen, status: 410}) },
		})
		if ctx.Err() == nil {
			engine.Send(self, ended{gen: gen, err: err})
		}
	}()
}

// dropCursor forgets a deleted webhook's cursor.
func (a *Actor) dropCursor() {
	if a.deps.Cursors == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.deps.Cursors.Delete(ctx, CursorKey(a.ref.ID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		a.logger().Warn("webhook cursor not deleted", "webhook", a.ref.ID, "err", err)
	}
}

func (a *Actor) stopRunner() {
	if a.run != nil {
		a.run.cancel()
		a.run = nil
	}
	a.restart++
}

// runnerEnded: after a 410 the webhook is being disabled; after a failure
// (the log or the cursor bucket unreachable, the cursor moved) the runner
// starts again a little later.
func (a *Actor) runnerEnded(m ended) {
	a.run = nil
	if m.err == nil {
		return
	}
	a.logger().Warn("webhook deliveries stopped; starting again", "webhook", a.ref.ID, "err", m.err, "in", restartAfter)
	engine, self, gen := a.engine, a.self, a.restart
	time.AfterFunc(restartAfter, func() { engine.Send(self, restart{gen: gen}) })
}

// attempts is the webhook's recent delivery attempts on this node (its
// delivery log; a node that takes the shard over starts a new one).
type attempts struct {
	mu   sync.Mutex
	ring []*pb.WebhookDelivery
	next int
	full bool
}

func newAttempts(n int) *attempts { return &attempts{ring: make([]*pb.WebhookDelivery, n)} }

func (l *attempts) add(at delivery.Attempt) {
	d := &pb.WebhookDelivery{EventId: at.EventID, Seq: at.Seq, Type: at.Type, Device: at.Device, Attempt: uint32(at.Attempt),
		TimeUnixMs: at.Time.UnixMilli(), Status: int32(at.Status), LatencyUs: at.Latency.Microseconds(), Error: at.Error, Outcome: at.Outcome}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = d
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
}

// last is up to n attempts, newest first.
func (l *attempts) last(n int) []*pb.WebhookDelivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := l.next
	if l.full {
		size = len(l.ring)
	}
	out := make([]*pb.WebhookDelivery, 0, min(n, size))
	for i := 1; i <= size && len(out) < n; i++ {
		out = append(out, l.ring[(l.next-i+len(l.ring))%len(l.ring)])
	}
	return out
}

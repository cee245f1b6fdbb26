// Package outputs runs the cluster's bus outputs, MQTT and NATS: each is
// one subscriber of the event log with its own durable cursor
// (notify/delivery), run by one node at a time (the owner of shard 0, as
// the projections are), so a node that dies hands them on and nothing is
// lost; a fresh output starts at the end of the log.
package outputs

import (
	"context"
	"log/slog"
	"time"

	"github.com/argus-vms/argus/actors/cluster"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/nats-io/nats.go/jetstream"
)

// Output is one bus subscriber.
type Output struct {
	Name  string // its cursor is "output.<name>"
	Match func(payload.Notification) bool
	// Open connects when this node starts delivering; Close of the answer
	// disconnects when it stops.
	Open func(ctx context.Context) (Sink, error)
}

// Sink delivers notifications to one bus.
type Sink interface {
	Deliver(ctx context.Context, n payload.Notification, body []byte) delivery.Result
	Close()
}

// Options of RunWhile.
type Options struct {
	Store   *events.Store
	Cursors jetstream.KeyValue
	Outputs []Output
	Lead    func() bool // nil: always
	Log     *slog.Logger
}

// RunWhile runs every output while lead() holds, until ctx ends.
func RunWhile(ctx context.Context, o Options) {
	if len(o.Outputs) == 0 {
		return
	}
	cluster.WhileLeading(ctx, o.Lead, func(term context.Context) {
		done := make(chan struct{}, len(o.Outputs))
		for _, out := range o.Outputs {
			go func() { run(term, o, out); done <- struct{}{} }()
		}
		for range o.Outputs {
			<-done
		}
	})
}

// run delivers one output until ctx ends, connecting again after failures.
func run(ctx context.Context, o Options, out Output) {
	log := o.Log.With("output", out.Name)
	b := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for ctx.Err() == nil {
		err := deliver(ctx, o, out, log)
		if ctx.Err() != nil {
			return
		}
		wait := b.Next()
		log.Warn("output stopped; starting again", "err", err, "in", wait)
		sleep(ctx, wait)
	}
}

func deliver(ctx context.Context, o Options, out Output, log *slog.Logger) error {
	last, err := o.Store.LastSeq(ctx)
	if err != nil {
		return err
	}
	cur, start, err := delivery.OpenCursor(ctx, o.Cursors, "output."+out.Name, last)
	if err != nil {
		return err
	}
	sink, err := out.Open(ctx)
	if err != nil {
		return err
	}
	defer sink.Close()
	log.Info("output delivering", "from_seq", start+1)
	return delivery.Run(ctx, delivery.Options{Store: o.Store, Cursor: cur, Start: start, Match: out.Match, Log: log,
		MaxBackoff: 30 * time.Second,
		Deliver: func(ctx context.Context, n payload.Notification, body []byte, _ int) delivery.Result {
			return sink.Deliver(ctx, n, body)
		}})
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

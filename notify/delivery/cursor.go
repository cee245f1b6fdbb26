// Package delivery hands the event log to one subscriber (a webhook
// endpoint, the MQTT broker, NATS out) at least once, in order per device,
// from a durable cursor of its own: a crash redelivers at most what came
// after the last saved cursor, with the same event ids.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/argus-vms/argus/events"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of every subscriber's cursor.
const Bucket = "argus_delivery"

// ErrMoved: another runner (a node that took over, or a Reset) wrote the
// cursor since this one read it; this runner must stop.
var ErrMoved = errors.New("delivery: cursor moved by another runner")

// Cursor is a subscriber's position in the log, kept in a KV bucket: every
// matching event with seq ≤ the cursor was delivered (or given up on). It
// is not safe for concurrent use (Run saves from one goroutine).
type Cursor struct {
	kv     jetstream.KeyValue
	key    string
	runner string // written with every Save: tells this runner's writes from others'
	opened uint64 // the revision OpenCursor read or created
	rev    uint64 // the revision last read or written
}

// value is the stored cursor. Runner lets a Save recognise its own write
// whose answer was lost, and a watcher tell another runner's write from its
// own; Reset leaves it empty.
type value struct {
	Seq    uint64 `json:"seq"`
	Runner string `json:"runner,omitempty"`
}

func encode(seq uint64, runner string) []byte {
	b, _ := json.Marshal(value{Seq: seq, Runner: runner})
	return b
}

func decode(b []byte) (value, error) {
	var v value
	err := json.Unmarshal(b, &v)
	return v, err
}

// OpenCursor reads key from kv (missing: start at start — the caller passes
// the log's last sequence for a new subscriber so it gets only new events,
// or 0 for everything). A missing key is written at once, so a new
// subscriber keeps the start it was given even if this runner dies before
// its first Save (by then the log's last sequence has moved on).
func OpenCursor(ctx context.Context, kv jetstream.KeyValue, key string, start uint64) (*Cursor, uint64, error) {
	c := &Cursor{kv: kv, key: key, runner: uuid.NewString()}
	for range 3 { // a Create losing to another runner's reads that runner's value
		e, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			v, err := decode(e.Value())
			if err != nil {
				return nil, 0, fmt.Errorf("delivery: cursor %s: %w", key, err)
			}
			c.opened, c.rev = e.Revision(), e.Revision()
			return c, v.Seq, nil
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rev, err := kv.Create(ctx, key, encode(start, c.runner))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err != nil {
				return nil, 0, fmt.Errorf("delivery: create cursor %s: %w", key, err)
			}
			c.opened, c.rev = rev, rev
			return c, start, nil
		default:
			return nil, 0, fmt.Errorf("delivery: read cursor %s: %w", key, err)
		}
	}
	return nil, 0, fmt.Errorf("delivery: cursor %s: created and deleted meanwhile", key)
}

// Save writes seq with a compare-and-set on the revision this Cursor last
// read or wrote: another runner (a node that took over, or a Reset) having
// written it → ErrMoved, and the runner stops.
func (c *Cursor) Save(ctx context.Context, seq uint64) error {
	val := encode(seq, c.runner)
	rev, err := c.kv.Update(ctx, c.key, val, c.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// An earlier Save of ours may have landed after its answer was lost
		// (a timeout): the value then carries our token and we carry on
		// from its revision; anyone else's write means we were replaced.
		e, gerr := c.kv.Get(ctx, c.key)
		if errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return ErrMoved
		}
		if gerr != nil {
			return fmt.Errorf("delivery: save cursor %s: %w", c.key, gerr)
		}
		if v, derr := decode(e.Value()); derr != nil || v.Runner != c.runner {
			return ErrMoved
		}
		rev, err = c.kv.Update(ctx, c.key, val, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return ErrMoved
		}
	}
	if err != nil {
		return fmt.Errorf("delivery: save cursor %s: %w", c.key, err)
	}
	c.rev = rev
	return nil
}

// watch calls moved once someone else writes or deletes the key, so a Run
// stops at a Reset or a takeover even while its own cursor stands still
// (an idle subscriber would otherwise never try a Save). It returns when
// ctx ends; a watch that cannot start leaves the detection to Save.
func (c *Cursor) watch(ctx context.Context, moved func()) error {
	w, err := c.kv.Watch(ctx, c.key)
	if err != nil {
		return fmt.Errorf("delivery: watch cursor %s: %w", c.key, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil || e.Revision() <= c.opened {
				continue // the initial value, already known
			}
			if v, err := decode(e.Value()); e.Operation() != jetstream.KeyValuePut || err != nil || v.Runner != c.runner {
				moved()
				return nil
			}
		}
	}
}

// Reset puts seq unconditionally (replay from an earlier point); a running
// Run then stops with ErrMoved, and the next OpenCursor reads seq.
func Reset(ctx context.Context, kv jetstream.KeyValue, key string, seq uint64) error {
	if _, err := kv.Put(ctx, key, encode(seq, "")); err != nil {
		return fmt.Errorf("delivery: reset cursor %s: %w", key, err)
	}
	return nil
}

// EnsureBucket creates or opens the cursor bucket. History 1: only the
// position matters, and the revision is what Save compares.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Argus delivery cursors: each subscriber's position in the event log",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return kv, nil
}

package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go/jetstream"
)

// layoutKey in KV argus_cluster records the log's layout version; layout 2
// keeps segment facts in ARGUS_SEGMENTS instead of ARGUS_EVENTS.
const (
	layoutKey     = "layout"
	currentLayout = "2"
)

// MigrateSegments moves the segment facts an older version wrote into
// ARGUS_EVENTS to the segment index, once per cluster: the live segments
// are recorded in the index (a record is idempotent by key, so nodes that
// migrate at the same time, or a migration that restarts, do no harm),
// then every old segment fact is deleted from the event log so that
// activation no longer reads them. Progress is logged.
func MigrateSegments(ctx context.Context, s *Store, x *SegmentIndex, replicas int, log *slog.Logger) error {
	kv, err := EnsureKeyValue(ctx, s.js, jetstream.KeyValueConfig{Bucket: "argus_cluster", Replicas: replicas, History: 1})
	if err != nil {
		return err
	}
	layout, err := Retry(ctx, "log layout", func(ctx context.Context) (string, error) {
		e, err := kv.Get(ctx, layoutKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return string(e.Value()), nil
	})
	if err != nil || layout == currentLayout {
		return err
	}
	start := time.Now()
	type fact struct {
		seq uint64
		env *pb.Envelope
		ref Ref
	}
	var old []uint64
	live := map[string]fact{}
	err = s.Scan(ctx, []string{SubjectPrefix + ".*." + KindPlan + ".*"}, 0, func(e Event) error {
		ref, ok := ParseSubject(e.Subject)
		if !ok {
			return nil
		}
		switch p := e.Envelope.Payload.(type) {
		case *pb.Envelope_PlanSegmentRecorded:
			old = append(old, e.Seq)
			live[p.PlanSegmentRecorded.Key] = fact{seq: e.Seq, env: e.Envelope, ref: ref}
		case *pb.Envelope_PlanSegmentDeleted:
			old = append(old, e.Seq)
			delete(live, p.PlanSegmentDeleted.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: migrate segments: scan: %w", err)
	}
	if len(old) > 0 {
		log.Info("migrating segment facts from the event log to the segment index", "facts", len(old), "live_segments", len(live))
	}
	n := 0
	for _, f := range live {
		if _, err := x.Record(ctx, f.ref, f.env); err != nil {
			return fmt.Errorf("events: migrate segments: record %s: %w", f.env.GetPlanSegmentRecorded().GetKey(), err)
		}
		if n++; n%10000 == 0 {
			log.Info("segment migration: indexed", "segments", n, "of", len(live))
		}
	}
	// Delete the old facts, a few requests in flight at a time.
	var (
		wg      sync.WaitGroup
		deleted atomic.Int64
		mu      sync.Mutex
		errs    []error
	)
	next := make(chan uint64)
	for range 16 {
		wg.Go(func() {
			for seq := range next {
				err := s.stream.DeleteMsg(ctx, seq)
				if err != nil && !isMsgGone(err) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("delete seq %d: %w", seq, err))
					mu.Unlock()
					continue
				}
				if d := deleted.Add(1); d%50000 == 0 {
					log.Info("segment migration: removed from the event log", "facts", d, "of", len(old))
				}
			}
		})
	}
	for _, seq := range old {
		next <- seq
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("events: migrate segments: %w", err)
	}
	if _, err := Retry(ctx, "log layout", func(ctx context.Context) (uint64, error) {
		return kv.Put(ctx, layoutKey, []byte(currentLayout))
	}); err != nil {
		return err
	}
	if len(old) > 0 {
		log.Info("segment migration done", "indexed", len(live), "removed_from_event_log", len(old), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

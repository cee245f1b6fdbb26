package plan

import (
	"context"
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/backoff"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Every segment the recorder publishes is indexed exactly once: the
// recorder's goroutine queues it (segmentQueue), the actor appends it and
// keeps what failed (unindexed) for retries with backoff until it is
// durable; a stopping actor indexes what is left before it is gone.

// segmentQueue hands published segments from the recorder's goroutine to
// the actor.
type segmentQueue struct {
	mu   sync.Mutex
	segs []record.Segment
}

func (q *segmentQueue) push(s record.Segment) {
	q.mu.Lock()
	q.segs = append(q.segs, s)
	q.mu.Unlock()
}

func (q *segmentQueue) take() []record.Segment {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.segs
	q.segs = nil
	return s
}

type indexItem struct {
	seg       record.Segment
	recovered bool
}

type backoffState = backoff.Backoff

// indexClosed indexes the segments the recorder published since the last
// call.
func (a *Actor) indexClosed() {
	for _, s := range a.closed.take() {
		a.unindexed = append(a.unindexed, indexItem{seg: s})
	}
	a.indexPending(nil)
}

// indexPending appends the index entry of every unindexed segment, in
// order; what fails waits for a retry (armed unless the actor is stopping).
func (a *Actor) indexPending(deadline *time.Time) {
	for len(a.unindexed) > 0 {
		err := a.indexSegment(&a.unindexed[0])
		if err == nil {
			a.unindexed = a.unindexed[1:]
			a.retry.Reset()
			continue
		}
		if deadline != nil && time.Now().After(*deadline) {
			return
		}
		if deadline != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		a.armRetry()
		return
	}
}

func (a *Actor) armRetry() {
	if a.retrying || a.engine == nil {
		return
	}
	a.retrying = true
	if a.retry.Min == 0 {
		a.retry = backoffState{Min: 500 * time.Millisecond, Max: 30 * time.Second}
	}
	engine, self := a.engine, a.self
	d := a.retry.Next()
	a.deps.Log.Warn("recording: segment not indexed yet; retrying", "plan", a.ref.ID, "segments", len(a.unindexed), "retry_in", d)
	time.AfterFunc(d, func() { engine.Send(self, retryIndex{}) })
}

// flushIndex runs as the actor stops: what the recorder published last is
// indexed now or never (the actor is gone), so it keeps trying for a while.
func (a *Actor) flushIndex() {
	for _, s := range a.closed.take() {
		a.unindexed = append(a.unindexed, indexItem{seg: s})
	}
	if len(a.unindexed) == 0 {
		return
	}
	deadline := time.Now().Add(flushBudget)
	a.indexPending(&deadline)
	for _, it := range a.unindexed {
		if it.seg.Unpublished {
			a.deps.Log.Warn("recording: segment still not uploaded; its partial is published and indexed by the next start's recovery", "plan", a.ref.ID, "segment", it.seg.Key)
			continue
		}
		a.deps.Log.Error("recording: segment published but not indexed (the log did not take it)", "plan", a.ref.ID, "segment", it.seg.Key)
	}
}

// flushBudget bounds how long a stopping plan keeps trying to index its
// last segments.
var flushBudget = 10 * time.Second

// indexSegment records one segment in the index. Not fenced by the
// shard's term: the file exists whoever owns the shard now.
func (a *Actor) indexSegment(it *indexItem) error {
	if a.deps.Index == nil {
		return nil
	}
	if it.seg.Unpublished {
		// Its upload failed: publish the partial the recorder left first.
		pp, ok := a.deps.Storage.(storage.PartialPublisher)
		if !ok {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := pp.PublishPartial(ctx, it.seg.Key+storage.PartialSuffix, it.seg.Bytes)
		cancel()
		if err != nil {
			return err
		}
		it.seg.Unpublished = false
		a.deps.Log.Info("segment uploaded on a retry", "plan", a.ref.ID, "segment", it.seg.Key)
	}
	s := it.seg
	env := a.segmentFact(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentRecorded{PlanSegmentRecorded: &pb.PlanSegmentRecorded{
		Device: a.key.Device, Channel: uint32(a.key.Channel), Key: s.Key,
		StartUnixMs: s.Start.UnixMilli(), EndUnixMs: s.End.UnixMilli(), DurationMs: s.DurationMS, Bytes: s.Bytes,
		Recovered: it.recovered,
	}}})
	_, err := a.deps.Index.Record(context.Background(), a.ref, env)
	return err
}

// segmentFact stamps a segment fact: of the plan's aggregate, but outside
// its versioned history (version 0).
func (a *Actor) segmentFact(env *pb.Envelope) *pb.Envelope {
	return events.Stamp(env, a.ref, 0, a.deps.Node, nil)
}

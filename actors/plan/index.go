package plan

import (
	"context"
	"sync"
	"time"

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

// takeClosed moves what the recorder published to the unindexed list
// (an event recording's segments with the alarms it was made for).
func (a *Actor) takeClosed() {
	for _, s := range a.closed.take() {
		a.unindexed = append(a.unindexed, s)
		if len(a.ev.alarms) > 0 {
			if a.ev.segAlarms == nil {
				a.ev.segAlarms = map[string][]string{}
			}
			a.ev.segAlarms[s.Key] = append([]string(nil), a.ev.alarms...)
		}
	}
}

// indexClosed indexes the segments the recorder published since the last
// call.
func (a *Actor) indexClosed() {
	a.takeClosed()
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
			a.segmentStored(!a.stored)
			a.stored = true
			continue
		}
		a.storageFailed(err)
		if deadline == nil {
			a.armRetry()
			return
		}
		if time.Now().After(*deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (a *Actor) armRetry() {
	if a.retrying || a.engine == nil {
		return
	}
	a.retrying = true
	engine, self := a.engine, a.self
	d := a.retry.Next()
	a.deps.Log.Warn("recording: segment not indexed yet; retrying", "plan", a.ref.ID, "segments", len(a.unindexed), "retry_in", d)
	time.AfterFunc(d, func() { engine.Send(self, retryIndex{}) })
}

// flushIndex runs as the actor stops: what the recorder published last is
// indexed now or never (the actor is gone), so it keeps trying for a while.
func (a *Actor) flushIndex() {
	a.takeClosed()
	if len(a.unindexed) == 0 {
		return
	}
	deadline := time.Now().Add(flushBudget)
	a.indexPending(&deadline)
	for _, seg := range a.unindexed {
		if seg.Unpublished {
			a.deps.Log.Warn("recording: segment still not uploaded; its partial is published and indexed by the next start's recovery", "plan", a.ref.ID, "segment", seg.Key)
			continue
		}
		a.deps.Log.Error("recording: segment published but not indexed (the log did not take it)", "plan", a.ref.ID, "segment", seg.Key)
	}
}

// flushBudget bounds how long a stopping plan keeps trying to index its
// last segments.
var flushBudget = 10 * time.Second

// indexSegment records one segment in the index. Not fenced by the
// shard's term: the file exists whoever owns the shard now.
func (a *Actor) indexSegment(seg *record.Segment) error {
	if a.deps.Index == nil {
		return nil
	}
	if seg.Unpublished {
		// Its upload failed: publish the partial the recorder left first.
		pp, ok := a.deps.Storage.(storage.PartialPublisher)
		if !ok {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := pp.PublishPartial(ctx, seg.Key+storage.PartialSuffix, seg.Bytes)
		cancel()
		if err != nil {
			return err
		}
		seg.Unpublished = false
		a.deps.Log.Info("segment uploaded on a retry", "plan", a.ref.ID, "segment", seg.Key)
	}
	env := SegmentRecorded(a.ref, a.deps.Node, *seg, false)
	env.GetPlanSegmentRecorded().Alarms = a.ev.segAlarms[seg.Key]
	_, err := a.deps.Index.Record(context.Background(), a.ref, env)
	if err == nil {
		delete(a.ev.segAlarms, seg.Key)
	}
	return err
}

// SegmentRecorded is the index fact of a published segment of plan (its
// aggregate, outside its versioned history: version 0).
func SegmentRecorded(plan events.Ref, node string, s record.Segment, recovered bool) *pb.Envelope {
	dev, ch, _ := events.ParseChannelID(plan.ID)
	return events.Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentRecorded{PlanSegmentRecorded: &pb.PlanSegmentRecorded{
		Device: dev, Channel: uint32(ch), Key: s.Key,
		StartUnixMs: s.Start.UnixMilli(), EndUnixMs: s.End.UnixMilli(), DurationMs: s.DurationMS, Bytes: s.Bytes,
		Recovered: recovered,
	}}}, plan, 0, node, nil)
}

// SegmentDeleted is the index fact of a segment of plan whose object is
// gone (retention, an unplayable partial).
func SegmentDeleted(plan events.Ref, node, key, reason string, startMS int64) *pb.Envelope {
	dev, ch, _ := events.ParseChannelID(plan.ID)
	return events.Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{
		Key: key, Reason: reason, Device: dev, Channel: uint32(ch), StartUnixMs: startMS}}}, plan, 0, node, nil)
}

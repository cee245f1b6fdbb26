package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Compaction of settled hours. Recorders write their facts interleaved
// (one per segment and plan, as segments close), so the 60 facts of one
// plan-hour end up spread over the stream's 8 MB blocks among every other
// plan's, and a cold lookup of one hour loads whole blocks for them: at
// 300 plans × 30 days, p99 ≈ 300 ms for a 1-hour playback. Once an hour is
// settled, its owner folds its facts into one plan.segments_compacted fact
// on the same subject and purges what it folded: a lookup of that hour then
// reads one message of ~5 KB, and the stream holds one message per
// plan-hour rather than one per segment.
//
// Compaction is safe against anything appending meanwhile (a late
// recovered segment, a deletion): the compacted fact is published only if
// the subject's last sequence is still the one it folded, and facts after
// it are folded by every lookup and by the next compaction. Deletions stay
// sticky (the compacted fact lists the hour's deleted keys); an hour with
// no live segment left compacts into a fact that expires after DeletedTTL,
// like the deletions it folds.

// CompactSettle is how long after an hour ends its facts are compacted.
const CompactSettle = 15 * time.Minute

// CompactHours compacts plan's hours that ended CompactSettle before now
// and hold more than one fact, oldest first, at most limit of them. It
// answers how many it compacted.
func (x *SegmentIndex) CompactHours(ctx context.Context, plan Ref, node string, now time.Time, limit int) (int, error) {
	current := SegmentSubject(plan, now.Add(-CompactSettle).UnixMilli()) // subjects sort by hour
	hours, err := x.hours(ctx, plan, func(subj string, n uint64) bool { return n > 1 && subj < current })
	if err != nil {
		return 0, err
	}
	done := 0
	for _, subj := range hours[:min(limit, len(hours))] {
		if err := x.CompactHour(ctx, plan, node, subj); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// CompactHour folds the facts on one hour subject of plan into one
// compacted fact (stamped by node) and purges them. Run again (after a crash between the
// two steps, or with facts appended since), it finishes or refolds.
func (x *SegmentIndex) CompactHour(ctx context.Context, plan Ref, node, subject string) error {
	if !ValidAggregateID(plan.Kind, plan.ID) {
		return ErrInvalidID
	}
	for range 3 {
		evs, err := x.read(ctx, subject)
		if err != nil {
			return err
		}
		if len(evs) <= 1 {
			return nil
		}
		last := evs[len(evs)-1]
		if last.Envelope.GetPlanSegmentsCompacted() != nil {
			// Compacted before, the purge did not follow: finish it.
			return x.purgeBefore(ctx, subject, last.Seq)
		}
		var h hourFold
		h.add(evs)
		c := &pb.PlanSegmentsCompacted{Covers: last.Seq}
		for _, s := range h.segments() {
			c.Segments = append(c.Segments, h.live[s.Key].rec)
		}
		for _, d := range h.gone {
			c.Deleted = append(c.Deleted, d)
		}
		slices.SortFunc(c.Deleted, func(a, b *pb.PlanSegmentDeleted) int { return strings.Compare(a.Key, b.Key) })
		env := Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentsCompacted{PlanSegmentsCompacted: c}}, plan, 0, node, nil)
		env.EventId = "seg-cmp:" + subject + ":" + strconv.FormatUint(last.Seq, 10)
		var ttl time.Duration
		if len(c.Segments) == 0 {
			ttl = DeletedTTL // nothing live: it goes the way of the deletions it folds
		}
		data, err := proto.Marshal(env)
		if err != nil {
			return err
		}
		seq, err := x.store.publishRetry(ctx, subject, data, env.EventId, &expectation{seq: last.Seq}, ttl, nil)
		if errors.Is(err, ErrConflict) {
			continue // a fact landed meanwhile (or this one did, its ack lost): read again
		}
		if err != nil {
			return fmt.Errorf("events: compact %s: %w", subject, err)
		}
		return x.purgeBefore(ctx, subject, seq)
	}
	return fmt.Errorf("events: compact %s: %w", subject, ErrConflict)
}

// purgeBefore removes subject's facts older than seq (the compacted fact).
func (x *SegmentIndex) purgeBefore(ctx context.Context, subject string, seq uint64) error {
	if err := x.stream.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(seq)); err != nil {
		return fmt.Errorf("events: compact %s: purge: %w", subject, err)
	}
	return nil
}

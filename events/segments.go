package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// The segment index: one fact per recorded segment (plan.segment_recorded)
// and per deletion (plan.segment_deleted), in a stream of its own so that
// activation, which reads ARGUS_EVENTS, never reads them (a month of 60 s
// segments of 1000 cameras is 43M facts), and so that their number is
// bounded by retention: a deletion removes the recorded fact and the
// deletion fact itself expires after DeletedTTL (the time consumers such as
// the ClickHouse projection have to see it). Settled hours are compacted
// into one plan.segments_compacted fact each (segments_compact.go).
//
// Subjects are argus.seg.<shard>.<plan id>.<YYYYMMDDHH>: one per plan and
// UTC hour of the segments' starts, so a time-range lookup reads the hours
// it covers and nothing else, on any node, with ClickHouse down.
//
// Segment facts are facts about files that exist, not decisions: they are
// not fenced by the shard's term. A recorder that closes its segment after
// its node lost the shard still indexes it (the file exists; with S3 the
// new owner serves it), and a retried record is deduplicated by its key.
const (
	SegmentStreamName = "ARGUS_SEGMENTS"
	SegmentPrefix     = "argus.seg"
)

// DeletedTTL is how long a deletion fact stays in the index stream.
const DeletedTTL = 7 * 24 * time.Hour

// IndexedSegment is one live index entry.
type IndexedSegment struct {
	Key        string
	Start, End int64 // unix ms
	DurationMS int64
	Bytes      int64
	Recovered  bool
	Alarms     []string // the alarms an event plan recorded it for
	Seq        uint64   // of its recorded fact in ARGUS_SEGMENTS; 0 inside a compacted hour
}

// SegmentIndex records and looks up segments (see the package comment
// above). It shares the store's connection and append retries.
type SegmentIndex struct {
	store  *Store
	stream jetstream.Stream
}

// OpenSegments creates or updates the segment index stream.
func (s *Store) OpenSegments(ctx context.Context, replicas int) (*SegmentIndex, error) {
	st, err := EnsureStream(ctx, s.js, jetstream.StreamConfig{
		Name:        SegmentStreamName,
		Description: "Argus segment index: one fact per recorded or deleted segment",
		Subjects:    []string{SegmentPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    replicas,
		Duplicates:  s.dupWindow,
		Discard:     jetstream.DiscardOld,
		AllowMsgTTL: true,
		AllowDirect: true, // lookups are direct gets (segments_read.go)
		// A per-subject limit no hour reaches makes the server use 4 MB
		// blocks rather than 8 MB: a cold lookup loads (reads and indexes)
		// the whole block holding its fact, which halves (300 plans × 30
		// days compacted: 1-hour lookup max 100 → 58 ms).
		MaxMsgsPerSubject: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("events: segment index: %w", err)
	}
	return &SegmentIndex{store: s, stream: st}, nil
}

// Stream is the ARGUS_SEGMENTS stream (projections read it).
func (x *SegmentIndex) Stream() jetstream.Stream { return x.stream }

// hourOf is the subject token of the UTC hour of a unix-ms instant.
func hourOf(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006010215") }

// SegmentSubject is the subject of plan's segments starting in the hour of startMS.
func SegmentSubject(plan Ref, startMS int64) string {
	return fmt.Sprintf("%s.%d.%s.%s", SegmentPrefix, plan.Shard, plan.ID, hourOf(startMS))
}

func segmentFilter(plan Ref) string {
	return fmt.Sprintf("%s.%d.%s.*", SegmentPrefix, plan.Shard, plan.ID)
}

// Record indexes a published segment. env carries a PlanSegmentRecorded
// (stamped by the caller); its id is derived from the key, so any retry of
// the same segment is one fact.
func (x *SegmentIndex) Record(ctx context.Context, plan Ref, env *pb.Envelope) (uint64, error) {
	r := env.GetPlanSegmentRecorded()
	if r == nil || !ValidAggregateID(plan.Kind, plan.ID) {
		return 0, ErrInvalidID
	}
	env.EventId = "seg-rec:" + r.Key
	return x.publish(ctx, SegmentSubject(plan, r.StartUnixMs), env, 0)
}

// Delete records that seg's file is gone (retention, an unplayable
// partial) and removes its recorded fact from the stream.
func (x *SegmentIndex) Delete(ctx context.Context, plan Ref, env *pb.Envelope, recordedSeq uint64) error {
	d := env.GetPlanSegmentDeleted()
	if d == nil || !ValidAggregateID(plan.Kind, plan.ID) {
		return ErrInvalidID
	}
	env.EventId = "seg-del:" + d.Key
	if _, err := x.publish(ctx, SegmentSubject(plan, d.StartUnixMs), env, DeletedTTL); err != nil {
		return err
	}
	if recordedSeq == 0 {
		return nil
	}
	// Lookups fold deletions anyway: a recorded fact left behind here is
	// harmless until the next retention round removes it.
	err := x.stream.DeleteMsg(ctx, recordedSeq)
	if err != nil && !isMsgGone(err) {
		return fmt.Errorf("events: drop indexed segment %d: %w", recordedSeq, err)
	}
	return nil
}

// isMsgGone: the message was deleted or expired already.
func isMsgGone(err error) bool {
	return errors.Is(err, jetstream.ErrMsgNotFound) || apiCode(err) == jetstream.JSErrCodeMessageNotFound
}

func (x *SegmentIndex) publish(ctx context.Context, subject string, env *pb.Envelope, ttl time.Duration) (uint64, error) {
	data, err := proto.Marshal(env)
	if err != nil {
		return 0, err
	}
	return x.store.publishRetry(ctx, subject, data, env.EventId, nil, ttl, nil)
}

// Range lists plan's live segments overlapping [from, to) in start order.
// Segments are at most an hour long, so the hour before from is read too.
func (x *SegmentIndex) Range(ctx context.Context, plan Ref, from, to time.Time) ([]IndexedSegment, error) {
	var filters []string
	for h := from.UTC().Truncate(time.Hour).Add(-time.Hour); h.Before(to); h = h.Add(time.Hour) {
		filters = append(filters, SegmentSubject(plan, h.UnixMilli()))
	}
	if len(filters) > 48 { // a long range: one wildcard rather than a subject per hour
		filters = []string{segmentFilter(plan)}
	}
	all, err := x.fold(ctx, filters)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, s := range all {
		if s.End > from.UnixMilli() && s.Start < to.UnixMilli() {
			out = append(out, s)
		}
	}
	return out, nil
}

// Oldest lists plan's live segments of its oldest hours that start before
// before, at least limit of them when it has that many (retention reads
// them in order; with nothing that old it reads no fact at all).
func (x *SegmentIndex) Oldest(ctx context.Context, plan Ref, before time.Time, limit int) ([]IndexedSegment, error) {
	oldEnough := SegmentSubject(plan, before.UnixMilli()) // subjects sort by hour
	hours, err := x.hours(ctx, plan, func(subj string, _ uint64) bool { return subj <= oldEnough })
	if err != nil {
		return nil, err
	}
	var out []IndexedSegment
	for i := 0; i < len(hours) && len(out) < limit; {
		j := min(i+6, len(hours))
		segs, err := x.fold(ctx, hours[i:j])
		if err != nil {
			return nil, err
		}
		out = append(out, segs...)
		i = j
	}
	return out, nil
}

// hours lists plan's hour subjects that keep (given each one's number of
// facts) accepts, oldest first.
func (x *SegmentIndex) hours(ctx context.Context, plan Ref, keep func(subject string, facts uint64) bool) ([]string, error) {
	info, err := x.stream.Info(ctx, jetstream.WithSubjectFilter(segmentFilter(plan)))
	if err != nil {
		return nil, err
	}
	var hours []string
	for subj, n := range info.State.Subjects {
		if keep(subj, n) {
			hours = append(hours, subj)
		}
	}
	slices.Sort(hours) // YYYYMMDDHH sorts by time
	return hours, nil
}

// Size is the number of facts and bytes the index holds.
func (x *SegmentIndex) Size(ctx context.Context) (msgs, bytes uint64, err error) {
	info, err := x.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.Msgs, info.State.Bytes, nil
}

// LookupSegments opens the segment index the nodes made, read only (a
// worker's: it changes neither stream).
func LookupSegments(ctx context.Context, nc *nats.Conn) (*SegmentIndex, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := Retry(ctx, "segment index", func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, SegmentStreamName) })
	if err != nil {
		return nil, fmt.Errorf("events: segment index: %w", err)
	}
	return &SegmentIndex{store: &Store{js: js, appendTimeout: 5 * time.Second}, stream: st}, nil
}

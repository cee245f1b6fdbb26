package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

func segmentRecorded(plan events.Ref, key string, start time.Time, d time.Duration) *pb.Envelope {
	return events.Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentRecorded{PlanSegmentRecorded: &pb.PlanSegmentRecorded{
		Device: "cam1", Channel: 1, Key: key, StartUnixMs: start.UnixMilli(), EndUnixMs: start.Add(d).UnixMilli(), DurationMs: d.Milliseconds(), Bytes: 10}}},
		plan, 0, "n1", nil)
}

// openIndex is a segment index on a fresh store.
func openIndex(t *testing.T) *events.SegmentIndex {
	t.Helper()
	x, err := openStore(t).OpenSegments(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// The index answers time ranges from the hours they cover, folds
// deletions, deduplicates retried records, and holds no recorded fact of a
// deleted segment.
func TestSegmentIndexRangesDeletesAndDedupes(t *testing.T) {
	x := openIndex(t)
	ctx := context.Background()
	plan := events.Ref{Shard: 2, Kind: events.KindPlan, ID: "cam1~1"}
	t0 := time.Date(2026, 11, 30, 22, 50, 0, 0, time.UTC)
	var keys []string
	for i := range 30 { // 30 × 60 s segments across the 23:00 and midnight boundaries
		start := t0.Add(time.Duration(i) * time.Minute)
		key := fmt.Sprintf("cam1~1/%s-k.mp4", start.Format("2006/01/02/150405.000"))
		keys = append(keys, key)
		if _, err := x.Record(ctx, plan, segmentRecorded(plan, key, start, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// A retry of the same segment (after a lost ack, or a restarted
	// recovery) is one entry.
	if _, err := x.Record(ctx, plan, segmentRecorded(plan, keys[3], t0.Add(3*time.Minute), time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := x.Range(ctx, plan, t0.Add(9*time.Minute+30*time.Second), t0.Add(12*time.Minute))
	if err != nil || len(got) != 3 || got[0].Key != keys[9] || got[2].Key != keys[11] {
		t.Fatalf("range 22:59:30–23:02: %+v %v", got, err)
	}
	all, _ := x.Range(ctx, plan, t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(all) != 30 {
		t.Fatalf("whole range: %d segments, want 30", len(all))
	}
	other := events.Ref{Shard: 2, Kind: events.KindPlan, ID: "cam1~2"}
	if segs, _ := x.Range(ctx, other, t0.Add(-time.Hour), t0.Add(time.Hour)); len(segs) != 0 {
		t.Fatalf("another plan's range: %v", segs)
	}
	// Delete the oldest five, as retention does.
	if none, err := x.Oldest(ctx, plan, t0.Add(-time.Hour), 5); err != nil || len(none) != 0 {
		t.Fatalf("oldest before the first hour: %+v %v", none, err)
	}
	old, err := x.Oldest(ctx, plan, t0, 5)
	if err != nil || len(old) < 5 || old[0].Key != keys[0] {
		t.Fatalf("oldest: %+v %v", old, err)
	}
	for _, seg := range old[:5] {
		del := events.Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{
			Key: seg.Key, Reason: "retention", Device: "cam1", Channel: 1, StartUnixMs: seg.Start}}}, plan, 0, "n1", nil)
		if err := x.Delete(ctx, plan, del, seg.Seq); err != nil {
			t.Fatal(err)
		}
	}
	all, _ = x.Range(ctx, plan, t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(all) != 25 || all[0].Key != keys[5] {
		t.Fatalf("after deleting five: %d, first %v", len(all), all[0].Key)
	}
	// 30 recorded − 5 removed + 5 deletion facts (the retried record was
	// deduplicated by the server).
	if msgs, _, _ := x.Size(ctx); msgs != 30 {
		t.Fatalf("index holds %d facts, want 30", msgs)
	}
}

// A settled hour compacts into one fact that lookups fold like the facts
// it replaces: the same live segments, deletions sticky, later facts seen
// and folded by the next compaction; an hour left with no live segment
// compacts into a fact that expires.
func TestSegmentIndexCompactsSettledHours(t *testing.T) {
	x := openIndex(t)
	ctx := context.Background()
	plan := events.Ref{Shard: 2, Kind: events.KindPlan, ID: "cam1~1"}
	t0 := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	key := func(i int) string {
		return fmt.Sprintf("cam1~1/%s-k.mp4", t0.Add(time.Duration(i)*time.Minute).Format("2006/01/02/150405.000"))
	}
	for i := range 150 { // 22:00–00:30: two whole hours and half of a third
		if _, err := x.Record(ctx, plan, segmentRecorded(plan, key(i), t0.Add(time.Duration(i)*time.Minute), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	del := func(i int) {
		t.Helper()
		d := events.Stamp(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{
			Key: key(i), Reason: "retention", Device: "cam1", Channel: 1, StartUnixMs: t0.Add(time.Duration(i) * time.Minute).UnixMilli()}}}, plan, 0, "n1", nil)
		if err := x.Delete(ctx, plan, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	del(5)
	before, _ := x.Range(ctx, plan, t0, t0.Add(3*time.Hour))
	if len(before) != 149 {
		t.Fatalf("before compaction: %d segments", len(before))
	}
	// At 00:20 the 22:00 and 23:00 hours are settled, midnight is not.
	n, err := x.CompactHours(ctx, plan, "n1", t0.Add(2*time.Hour+20*time.Minute), 10)
	if err != nil || n != 2 {
		t.Fatalf("compacted %d hours: %v", n, err)
	}
	after, _ := x.Range(ctx, plan, t0, t0.Add(3*time.Hour))
	if len(after) != len(before) {
		t.Fatalf("after compaction: %d segments, want %d", len(after), len(before))
	}
	for i := range after {
		if a, b := after[i], before[i]; a.Key != b.Key || a.Start != b.Start || a.End != b.End || a.Bytes != b.Bytes {
			t.Fatalf("segment %d: %+v, was %+v", i, a, b)
		}
	}
	// 2 compacted hours + 30 facts of the hour not settled yet.
	if msgs, _, _ := x.Size(ctx); msgs != 32 {
		t.Fatalf("index holds %d facts after compaction, want 32", msgs)
	}
	// The deleted segment stays deleted, even when recorded again (a retry).
	if _, err := x.Record(ctx, plan, segmentRecorded(plan, key(5), t0.Add(5*time.Minute), time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A late segment in a compacted hour (recovered after a crash).
	late := "cam1~1/2026/11/30/220530.000-late.mp4"
	if _, err := x.Record(ctx, plan, segmentRecorded(plan, late, t0.Add(5*time.Minute+30*time.Second), 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	hour, _ := x.Range(ctx, plan, t0.Add(time.Minute), t0.Add(time.Hour))
	if len(hour) != 59 { // 22:01–23:00: 59 minus the deleted one plus the late one
		t.Fatalf("compacted hour with a late segment: %d segments", len(hour))
	}
	for _, s := range hour {
		if s.Key == key(5) {
			t.Fatal("a deleted segment came back")
		}
	}
	if n, err := x.CompactHours(ctx, plan, "n1", t0.Add(2*time.Hour+20*time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("second round compacted %d hours: %v", n, err)
	}
	if again, _ := x.Range(ctx, plan, t0.Add(time.Minute), t0.Add(time.Hour)); len(again) != 59 {
		t.Fatalf("after the second compaction: %d segments", len(again))
	}
	// Retention deletes the whole 23:00 hour: it compacts into a fact that expires.
	for i := 60; i < 120; i++ {
		del(i)
	}
	if n, err := x.CompactHours(ctx, plan, "n1", t0.Add(2*time.Hour+20*time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("compacted %d hours after retention: %v", n, err)
	}
	m, err := x.Stream().GetLastMsgForSubject(ctx, events.SegmentSubject(plan, t0.Add(time.Hour).UnixMilli()))
	if err != nil || m.Header.Get("Nats-TTL") == "" {
		t.Fatalf("the emptied hour's compacted fact: %v, headers %v", err, m)
	}
	if segs, err := x.Range(ctx, plan, t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || len(segs) != 0 {
		t.Fatalf("the emptied hour: %+v", segs)
	}
}

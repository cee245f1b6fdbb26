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

// The index answers time ranges from the hours they cover, folds
// deletions, deduplicates retried records, and holds no recorded fact of a
// deleted segment.
func TestSegmentIndexRangesDeletesAndDedupes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	x, err := s.OpenSegments(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
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

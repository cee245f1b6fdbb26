package events_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// A log of the old layout (segment facts in ARGUS_EVENTS) is migrated:
// live segments land in the index, every old segment fact leaves the
// event log, the plan's configuration history stays, and a second run
// does nothing.
func TestMigrateSegmentsFromTheEventLog(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	x, err := s.OpenSegments(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	plan := events.Ref{Shard: 1, Kind: events.KindPlan, ID: "cam1~1"}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var last uint64
	appendOld := func(env *pb.Envelope) {
		t.Helper()
		events.Stamp(env, plan, 0, "old", nil)
		seq, err := s.Append(ctx, plan, env, last)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	appendOld(&pb.Envelope{Payload: &pb.Envelope_PlanSet{PlanSet: &pb.PlanSet{Device: "cam1", Channel: 1, Mode: "continuous", SegmentSeconds: 60, RetentionDays: 30}}})
	for i := range 3 {
		start := t0.Add(time.Duration(i) * time.Minute)
		appendOld(segmentRecorded(plan, "cam1~1/k"+string(rune('a'+i))+".mp4", start, time.Minute))
	}
	appendOld(&pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{Key: "cam1~1/ka.mp4", Reason: "retention", Device: "cam1", Channel: 1, StartUnixMs: t0.UnixMilli()}}})

	for run := range 2 {
		if err := events.MigrateSegments(ctx, s, x, 1, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		segs, err := x.Range(ctx, plan, t0, t0.Add(time.Hour))
		if err != nil || len(segs) != 2 || segs[0].Key != "cam1~1/kb.mp4" || segs[1].Key != "cam1~1/kc.mp4" {
			t.Fatalf("run %d: index %+v %v", run, segs, err)
		}
		evs, err := s.Load(ctx, plan, 0)
		if err != nil || len(evs) != 1 || evs[0].Envelope.GetPlanSet() == nil {
			t.Fatalf("run %d: plan history %d events %v", run, len(evs), err)
		}
	}
}

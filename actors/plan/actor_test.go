package plan_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	"google.golang.org/protobuf/proto"
)

// clock is the injected time of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type fixture struct {
	t      *testing.T
	engine *actor.Engine
	pid    *actor.PID
	store  *events.Store
	ref    events.Ref
	clock  *clock
	st     *storage.Local
	index  *events.SegmentIndex
	holds  map[bool]int
	alarms []proto.Message // the plan's alarm commands
	mu     sync.Mutex
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	srv := testenv.NewNATS(t)
	store, err := events.Open(context.Background(), testenv.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	index, err := store.OpenSegments(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	engine, _ := actor.NewEngine(actor.NewEngineConfig())
	f := &fixture{t: t, engine: engine, store: store, clock: &clock{now: start}, st: st, index: index, holds: map[bool]int{}}
	k := relay.Key{Device: "cam1", Channel: 1}
	f.ref = events.Ref{Shard: 3, Kind: events.KindPlan, ID: "cam1~1"}
	deps := &plan.Deps{
		Store: store, Node: "n1", Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Storage: st, Index: index, Now: f.clock.Now, RetentionEvery: time.Hour,
		// A real relay stream with no camera behind it: the schedule decides
		// when the recorder runs; media is covered by the recorder's own tests.
		Hold: func(ctx context.Context, k relay.Key, on bool) (*relay.Stream, error) {
			f.mu.Lock()
			f.holds[on]++
			f.mu.Unlock()
			return relay.NewStream(k), nil
		},
		Alarm: func(cmd proto.Message) {
			f.mu.Lock()
			f.alarms = append(f.alarms, cmd)
			f.mu.Unlock()
		},
	}
	f.pid = engine.Spawn(plan.New(deps, events.Term{Shard: 3}, k, nil), "plan", actor.WithID("cam1~1"))
	t.Cleanup(func() { <-engine.Poison(f.pid).Done() })
	return f
}

func (f *fixture) ask(cmd proto.Message) *pb.PlanReply {
	f.t.Helper()
	reply := make(chan *pb.PlanReply, 1)
	f.engine.Send(f.pid, &plan.Ask{Cmd: cmd, Reply: reply})
	select {
	case r := <-reply:
		return r
	case <-time.After(5 * time.Second):
		f.t.Fatal("plan actor did not answer")
	}
	return nil
}

func (f *fixture) at(t time.Time) *pb.PlanView {
	f.t.Helper()
	f.clock.Set(t)
	f.engine.Send(f.pid, plan.Tick{})
	r := f.ask(&pb.GetPlan{Device: "cam1", Channel: 1})
	return r.Plan
}

func (f *fixture) types() []string {
	evs, err := f.store.Load(context.Background(), f.ref, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Envelope.Type)
	}
	return out
}

func TestScheduleStartsAndStopsRecordingAtTheRightInstants(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	sat2159 := time.Date(2026, 11, 21, 21, 59, 0, 0, berlin) // a Saturday
	f := newFixture(t, sat2159)
	r := f.ask(&pb.SetPlan{Device: "cam1", Channel: 1, Mode: "schedule", Timezone: "Europe/Berlin", SegmentSeconds: 10,
		Schedule: []*pb.PlanWindow{{Days: []string{"sat"}, Start: "22:00", End: "02:00"}}})
	if r.Code != 0 {
		t.Fatalf("set plan: %v", r)
	}
	if r.Plan.Recording || time.UnixMilli(r.Plan.NextChangeUnixMs).In(berlin).Format("Mon 15:04") != "Sat 22:00" {
		t.Fatalf("at Sat 21:59: recording=%v next=%v", r.Plan.Recording, time.UnixMilli(r.Plan.NextChangeUnixMs).In(berlin))
	}
	steps := []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 21, 22, 0, 0, 0, berlin), true},  // window opens
		{time.Date(2026, 11, 22, 1, 59, 0, 0, berlin), true},  // across midnight
		{time.Date(2026, 11, 22, 2, 0, 0, 0, berlin), false},  // closes
		{time.Date(2026, 11, 28, 23, 30, 0, 0, berlin), true}, // next Saturday
	}
	for _, s := range steps {
		if got := f.at(s.at); got.Recording != s.want {
			t.Fatalf("at %s: recording %v, want %v", s.at.Format("Mon 15:04"), got.Recording, s.want)
		}
	}
	// Off mode stops it at once.
	if r := f.ask(&pb.SetPlan{Device: "cam1", Channel: 1, Mode: "off"}); r.Code != 0 || r.Plan.Recording {
		t.Fatalf("off: %v", r)
	}
	want := []string{"plan.set", "plan.recording_started", "plan.recording_stopped", "plan.recording_started", "plan.set", "plan.recording_stopped"}
	got := f.types()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holds[true] != 2 || f.holds[false] != 2 {
		t.Fatalf("stream holds %v: every recording holds and releases the stream", f.holds)
	}
}

func TestRetentionDeletesOldSegments(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	if r := f.ask(&pb.SetPlan{Device: "cam1", Channel: 1, Mode: "off", RetentionDays: 1}); r.Code != 0 {
		t.Fatal(r)
	}
	// Stored segments: one three days old, one an hour old (its hour not
	// settled yet), two in the hour before (settled: compacted).
	ctx := context.Background()
	var keys []string
	for _, age := range []time.Duration{72 * time.Hour, time.Hour, 2 * time.Hour, 2*time.Hour - 10*time.Second} {
		start := now.Add(-age)
		key := "cam1~1/" + start.Format("2006/01/02/150405.000") + "-t.mp4"
		w, err := f.st.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("segment bytes"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		seg := record.Segment{Key: key, Start: start, End: start.Add(10 * time.Second), DurationMS: 10000, Bytes: 13}
		if _, err := f.index.Record(ctx, f.ref, plan.SegmentRecorded(f.ref, "n1", seg, true)); err != nil {
			t.Fatal(err)
		}
	}
	f.engine.Send(f.pid, plan.Retain{})
	f.ask(&pb.GetPlan{Device: "cam1", Channel: 1}) // the actor has handled everything sent before
	if _, _, err := f.st.Open(ctx, keys[0]); err == nil {
		t.Error("the 3-day-old segment is still stored")
	}
	if rd, _, err := f.st.Open(ctx, keys[1]); err != nil {
		t.Errorf("the recent segment was deleted: %v", err)
	} else {
		rd.Close()
	}
	// The index holds the recent segments only; the old one's recorded fact
	// is gone from the stream, its deletion fact stays for a while; the
	// settled hour's two facts are one.
	segs, err := f.index.Range(ctx, f.ref, now.Add(-96*time.Hour), now)
	if err != nil || len(segs) != 3 || segs[0].Key != keys[2] || segs[1].Key != keys[3] || segs[2].Key != keys[1] {
		t.Fatalf("index after retention: %+v %v", segs, err)
	}
	if msgs, _, _ := f.index.Size(ctx); msgs != 3 {
		t.Fatalf("index stream holds %d facts, want 3 (the unsettled segment, the deletion, the compacted hour)", msgs)
	}
	// Nothing of it in the plan's history: its state does not grow.
	for _, typ := range f.types() {
		if strings.HasPrefix(typ, "plan.segment") {
			t.Fatalf("segment fact %s in the event log", typ)
		}
	}
}

// A plan that records but gets no segment for two segment lengths raises
// the "recording" system alarm of its channel, once.
func TestRecordingGapRaisesAlarm(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	if r := f.ask(&pb.SetPlan{Device: "cam1", Channel: 1, Mode: "continuous", SegmentSeconds: 10}); r.Code != 0 || !r.Plan.Recording {
		t.Fatalf("set plan: %v", r)
	}
	f.at(start.Add(15 * time.Second)) // one and a half segments: not yet
	f.at(start.Add(21 * time.Second))
	f.at(start.Add(40 * time.Second)) // still quiet: raised once
	f.mu.Lock()
	defer f.mu.Unlock()
	var raised []*pb.RaiseAlarm
	for _, c := range f.alarms {
		if r, ok := c.(*pb.RaiseAlarm); ok {
			raised = append(raised, r)
		}
	}
	if len(raised) != 1 || raised[0].Type != "recording" || raised[0].Channel != 1 || raised[0].Source != "system" {
		t.Fatalf("alarms %v: want one recording alarm", f.alarms)
	}
}

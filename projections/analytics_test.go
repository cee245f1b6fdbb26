package projections_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/test/testenv"
)

// ---- 4. Analytics against a hand-computed scenario -------------------------

// scenarioEvent is one event of the analytics scenario, at T0 + at.
type scenarioEvent struct {
	at      time.Duration
	kind    string // events.KindDevice / KindStream / KindPlan
	id      string
	payload *pb.Envelope
}

// The hour under test starts at T0.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func online() *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_DeviceOnline{DeviceOnline: &pb.DeviceOnline{Via: "probe"}}}
}
func offline() *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_DeviceOffline{DeviceOffline: &pb.DeviceOffline{Reason: "timeout"}}}
}
func started(dev string, ch uint32) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_StreamStarted{StreamStarted: &pb.StreamStarted{Device: dev, Channel: ch, Node: "n1"}}}
}
func stopped(peak uint32) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_StreamStopped{StreamStopped: &pb.StreamStopped{Reason: "idle", PeakReaders: peak, Bytes: 1234}}}
}
func segment(dev string, ch uint32, at time.Duration, dur time.Duration, bytes int64) *pb.Envelope {
	start := t0.Add(at).UnixMilli()
	return &pb.Envelope{Payload: &pb.Envelope_PlanSegmentRecorded{PlanSegmentRecorded: &pb.PlanSegmentRecorded{
		Device: dev, Channel: ch, Key: fmt.Sprintf("%s/%d/%d", dev, ch, start),
		StartUnixMs: start, EndUnixMs: start + dur.Milliseconds(), DurationMs: dur.Milliseconds(), Bytes: bytes}}}
}

// analyticsScenario, in time order per aggregate:
//
//	cam-a: online −30m, offline +20m, online +30m (open)  → 50 min of [T0, T0+1h): ratio 5/6
//	cam-b: online +15m, removed +45m                      → 30 min: ratio 1/2
//	cam-a~1: started +5m, stopped +25m peak 3             → 20 min × 3 = 60 viewer-minutes
//	cam-a~2: started −10m, stopped +10m peak 2            → 10 min in window × 2 = 20
//	cam-b~1: started +50m, failed +55m; started +56m open → 0 viewer-minutes, peak 0
//	segments: cam-a~1 +0 60 s 1000 B, +1m 60 s 2000 B, −13h 1 h 4000 B;
//	          cam-b~1 +2m 120 s 500 B, +3m 60 s 700 B (deleted)
func analyticsScenario() []scenarioEvent {
	reg := func(name string) *pb.Envelope {
		return &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{Name: name, Url: "rtsp://cam/" + name, Channels: 2}}}
	}
	m := time.Minute
	del := &pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{
		Key: fmt.Sprintf("cam-b/1/%d", t0.Add(3*m).UnixMilli()), Reason: "retention", Device: "cam-b", Channel: 1, StartUnixMs: t0.Add(3 * m).UnixMilli()}}}
	evs := []scenarioEvent{
		{-60 * m, events.KindDevice, "cam-a", reg("cam-a")},
		{-60 * m, events.KindDevice, "cam-b", reg("cam-b")},
		{-30 * m, events.KindDevice, "cam-a", online()},
		{20 * m, events.KindDevice, "cam-a", offline()},
		{30 * m, events.KindDevice, "cam-a", online()},
		{15 * m, events.KindDevice, "cam-b", online()},
		{45 * m, events.KindDevice, "cam-b", &pb.Envelope{Payload: &pb.Envelope_DeviceRemoved{DeviceRemoved: &pb.DeviceRemoved{}}}},

		{5 * m, events.KindStream, "cam-a~1", started("cam-a", 1)},
		{25 * m, events.KindStream, "cam-a~1", stopped(3)},
		{-10 * m, events.KindStream, "cam-a~2", started("cam-a", 2)},
		{10 * m, events.KindStream, "cam-a~2", stopped(2)},
		{50 * m, events.KindStream, "cam-b~1", started("cam-b", 1)},
		{55 * m, events.KindStream, "cam-b~1", &pb.Envelope{Payload: &pb.Envelope_StreamFailed{StreamFailed: &pb.StreamFailed{Error: "eof"}}}},
		{56 * m, events.KindStream, "cam-b~1", started("cam-b", 1)},

		{-13 * time.Hour, events.KindPlan, "cam-a~1", segment("cam-a", 1, -13*time.Hour, time.Hour, 4000)},
		{1 * m, events.KindPlan, "cam-a~1", segment("cam-a", 1, 0, time.Minute, 1000)},
		{2 * m, events.KindPlan, "cam-a~1", segment("cam-a", 1, m, time.Minute, 2000)},
		{4 * m, events.KindPlan, "cam-b~1", segment("cam-b", 1, 2*m, 2*time.Minute, 500)},
		{4 * m, events.KindPlan, "cam-b~1", segment("cam-b", 1, 3*m, time.Minute, 700)},
		{5 * m, events.KindPlan, "cam-b~1", del},
	}
	slices.SortStableFunc(evs, func(a, b scenarioEvent) int { return int(a.at - b.at) })
	return evs
}

// appendScenario appends the scenario through the store as the actors
// would: per aggregate versions and optimistic concurrency.
func appendScenario(t *testing.T, store *events.Store, evs []scenarioEvent) {
	t.Helper()
	last, ver := map[string]uint64{}, map[string]uint64{}
	for i, se := range evs {
		dev := se.id
		if d, _, ok := events.ParseChannelID(se.id); ok {
			dev = d
		}
		ref := events.Ref{Shard: events.ShardOf(dev, events.DefaultShards), Kind: se.kind, ID: se.id}
		key := ref.Subject()
		ver[key]++
		env := &pb.Envelope{
			EventId: fmt.Sprintf("scenario-%d", i), AggregateKind: se.kind, AggregateId: se.id, Version: ver[key],
			TimeUnixMs: t0.Add(se.at).UnixMilli(), Node: "n1", Payload: se.payload.Payload,
		}
		env.Type = events.TypeOf(env)
		seq, err := store.Append(context.Background(), ref, env, last[key])
		if err != nil {
			t.Fatalf("append %s %s: %v", se.id, env.Type, err)
		}
		last[key] = seq
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// checkAnalytics runs every query against the hand-computed figures.
func checkAnalytics(t *testing.T, a *projections.Analytics, evs []scenarioEvent) {
	t.Helper()
	ctx := context.Background()
	from, to := t0, t0.Add(time.Hour)

	up, err := a.Uptime(ctx, from, to, "")
	if err != nil {
		t.Fatal(err)
	}
	wantUp := []projections.UptimeItem{{Device: "cam-a", OnlineSeconds: 3000, Ratio: 5.0 / 6}, {Device: "cam-b", OnlineSeconds: 1800, Ratio: 0.5}}
	if len(up) != len(wantUp) {
		t.Fatalf("uptime = %+v; want %+v", up, wantUp)
	}
	for i := range up {
		if up[i].Device != wantUp[i].Device || !near(up[i].OnlineSeconds, wantUp[i].OnlineSeconds) || !near(up[i].Ratio, wantUp[i].Ratio) {
			t.Fatalf("uptime = %+v; want %+v", up, wantUp)
		}
	}
	one, err := a.Uptime(ctx, from, to, "cam-a")
	if err != nil || len(one) != 1 || !near(one[0].OnlineSeconds, 3000) {
		t.Fatalf("uptime of cam-a = %+v (err %v); want 3000 s", one, err)
	}
	// Open interval ends at now when now is inside the window.
	a2 := *a
	a2.Now = func() time.Time { return t0.Add(40 * time.Minute) }
	if got, err := a2.Uptime(ctx, from, to, "cam-a"); err != nil || len(got) != 1 || !near(got[0].OnlineSeconds, 30*60) {
		t.Fatalf("uptime of cam-a at T0+40m = %+v (err %v); want 1800 s (20 + 10 min)", got, err)
	}

	recs, err := a.Recordings(ctx, from, to, "device")
	if err != nil {
		t.Fatal(err)
	}
	wantRecs := []projections.RecordingsItem{{Key: "cam-a", Hours: 120.0 / 3600, Bytes: 3000}, {Key: "cam-b", Hours: 120.0 / 3600, Bytes: 500}}
	checkRecs(t, "by device", recs, wantRecs)
	days, err := a.Recordings(ctx, t0.Add(-24*time.Hour), t0.Add(24*time.Hour), "day")
	if err != nil {
		t.Fatal(err)
	}
	checkRecs(t, "by day", days, []projections.RecordingsItem{{Key: "2024-04-30", Hours: 1, Bytes: 4000}, {Key: "2024-05-01", Hours: 240.0 / 3600, Bytes: 3500}})

	// Events per hour and type, counted here from the scenario itself.
	wfrom, wto := t0.Add(-time.Hour), t0.Add(time.Hour)
	type bt struct {
		bucket time.Time
		typ    string
	}
	want := map[bt]uint64{}
	for _, se := range evs {
		at := t0.Add(se.at)
		if at.Before(wfrom) || !at.Before(wto) {
			continue
		}
		env := &pb.Envelope{Payload: se.payload.Payload}
		want[bt{at.Truncate(time.Hour), events.TypeOf(env)}]++
	}
	got, err := a.Events(ctx, wfrom, wto, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gotM := map[bt]uint64{}
	for _, it := range got {
		gotM[bt{it.Bucket, it.Type}] = it.Count
	}
	if len(gotM) != len(want) || len(got) != len(want) {
		t.Fatalf("events = %+v; want %v", got, want)
	}
	for k, n := range want {
		if gotM[k] != n {
			t.Fatalf("events[%v %s] = %d; want %d (all: %+v)", k.bucket, k.typ, gotM[k], n, got)
		}
	}
	if gotM[bt{t0, "device.online"}] != 2 {
		t.Fatalf("device.online in hour T0 = %d; want 2", gotM[bt{t0, "device.online"}])
	}
	fine, err := a.Events(ctx, t0, t0.Add(10*time.Minute), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var fiveMin uint64
	for _, it := range fine {
		if it.Bucket.Equal(t0.Add(5 * time.Minute)) {
			fiveMin += it.Count
		}
	}
	if fiveMin != 2 { // stream.started cam-a~1 and plan.segment_deleted at +5m
		t.Fatalf("events in bucket T0+5m = %d; want 2 (%+v)", fiveMin, fine)
	}

	streams, err := a.Streams(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	wantStreams := []projections.StreamsItem{{Device: "cam-a", ViewerMinutes: 80, PeakReaders: 3}, {Device: "cam-b", ViewerMinutes: 0, PeakReaders: 0}}
	if len(streams) != 2 {
		t.Fatalf("streams = %+v; want %+v", streams, wantStreams)
	}
	for i := range streams {
		if streams[i].Device != wantStreams[i].Device || !near(streams[i].ViewerMinutes, wantStreams[i].ViewerMinutes) || streams[i].PeakReaders != wantStreams[i].PeakReaders {
			t.Fatalf("streams = %+v; want %+v", streams, wantStreams)
		}
	}
}

func checkRecs(t *testing.T, what string, got, want []projections.RecordingsItem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("recordings %s = %+v; want %+v", what, got, want)
	}
	for i := range got {
		if got[i].Key != want[i].Key || !near(got[i].Hours, want[i].Hours) || got[i].Bytes != want[i].Bytes {
			t.Fatalf("recordings %s = %+v; want %+v", what, got, want)
		}
	}
}

// tableCounts is count() FINAL of the status and session tables.
func tableCounts(t *testing.T, conn driver.Conn, db string) (status, sessions uint64) {
	t.Helper()
	for _, q := range []struct {
		table string
		n     *uint64
	}{{"device_status", &status}, {"stream_sessions", &sessions}} {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+"."+q.table+" FINAL").Scan(q.n); err != nil {
			t.Fatal(err)
		}
	}
	return status, sessions
}

func TestAnalyticsHandComputedScenario(t *testing.T) {
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	db := migratedDB(t, conn)
	store := openStore(t)
	evs := analyticsScenario()
	appendScenario(t, store, evs)

	sinks := []projections.Sink{
		&projections.EventsSink{Conn: conn, Table: db + ".events"},
		&projections.RecordingsSink{Conn: conn, Table: db + ".recordings"},
		&projections.StatusSink{Conn: conn, Table: db + ".device_status"},
		&projections.SessionsSink{Conn: conn, Table: db + ".stream_sessions"},
	}
	for _, s := range sinks {
		r := startProjector(t, store.Stream(), s)
		waitLag0(t, r.p, 20*time.Second)
	}
	a := &projections.Analytics{Conn: conn, DB: db, Now: func() time.Time { return t0.Add(2 * time.Hour) }}
	checkAnalytics(t, a, evs)

	// Rows: cam-a 3 intervals, cam-b 1 (closed by removal); sessions:
	// cam-a~1, cam-a~2, cam-b~1 twice.
	st, se := tableCounts(t, conn, db)
	if st != 4 || se != 4 {
		t.Fatalf("device_status %d rows, stream_sessions %d rows FINAL; want 4 and 4", st, se)
	}

	rawBefore := rawCounts(t, conn, db)

	// Redelivery: the whole log again through fresh sinks (caches loaded
	// from ClickHouse, as after a restart), then a tail again through the
	// same sinks (as after a failed insert).
	var all []events.Event
	if err := store.Scan(context.Background(), nil, 0, func(e events.Event) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(evs) {
		t.Fatalf("scanned %d events; want %d", len(all), len(evs))
	}
	fresh := []projections.Sink{
		&projections.EventsSink{Conn: conn, Table: db + ".events"},
		&projections.RecordingsSink{Conn: conn, Table: db + ".recordings"},
		&projections.StatusSink{Conn: conn, Table: db + ".device_status"},
		&projections.SessionsSink{Conn: conn, Table: db + ".stream_sessions"},
	}
	for _, s := range fresh {
		for _, b := range [][]events.Event{all, all[len(all)/2:], all[len(all)-3:]} {
			if err := s.Write(context.Background(), b); err != nil {
				t.Fatalf("%s: %v", s.Name(), err)
			}
		}
	}
	checkAnalytics(t, a, evs)
	if st2, se2 := tableCounts(t, conn, db); st2 != st || se2 != se {
		t.Fatalf("after redelivery: device_status %d rows, stream_sessions %d; want %d and %d", st2, se2, st, se)
	}
	// The status and session sinks skip what they already folded: not even
	// duplicate rows waiting for a merge.
	if raw := rawCounts(t, conn, db); raw != rawBefore {
		t.Fatalf("raw rows (device_status, stream_sessions) after redelivery %v; before %v", raw, rawBefore)
	}
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".events FINAL").Scan(&n); err != nil || n != uint64(len(evs)) {
		t.Fatalf("events FINAL %d (err %v); want %d", n, err, len(evs))
	}
}

func TestAnalyticsRejectsBadArguments(t *testing.T) {
	a := &projections.Analytics{}
	ctx := context.Background()
	if _, err := a.Uptime(ctx, t0, t0, ""); err == nil {
		t.Fatal("uptime over an empty window: no error")
	}
	if _, err := a.Recordings(ctx, t0, t0.Add(time.Hour), "week"); err == nil {
		t.Fatal("recordings group_by=week: no error")
	}
}

// rawCounts is count() without FINAL of the status and session tables.
func rawCounts(t *testing.T, conn driver.Conn, db string) [2]uint64 {
	t.Helper()
	var out [2]uint64
	for i, table := range []string{"device_status", "stream_sessions"} {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+"."+table).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

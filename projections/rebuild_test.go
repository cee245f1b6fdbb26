package projections_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/test/testenv"
)

// mixedLog appends events of every kind the projections read, as the
// actors would (per aggregate versions, optimistic concurrency).
type mixedLog struct {
	store *events.Store
	index *events.SegmentIndex // segment facts go here (ARGUS_SEGMENTS)
	last  map[string]uint64
	ver   map[string]uint64
	n     int // events in ARGUS_EVENTS
	segs  int // facts in ARGUS_SEGMENTS
}

func (l *mixedLog) add(t *testing.T, kind, id string, at time.Time, payload *pb.Envelope) {
	t.Helper()
	dev := id
	if d, _, ok := events.ParseChannelID(id); ok {
		dev = d
	}
	ref := events.Ref{Shard: events.ShardOf(dev, events.DefaultShards), Kind: kind, ID: id}
	key := ref.Subject()
	l.ver[key]++
	env := &pb.Envelope{
		EventId: fmt.Sprintf("mixed-%d", l.n), AggregateKind: kind, AggregateId: id, Version: l.ver[key],
		TimeUnixMs: at.UnixMilli(), Node: "n1", Payload: payload.Payload,
	}
	env.Type = events.TypeOf(env)
	switch env.Payload.(type) {
	case *pb.Envelope_PlanSegmentRecorded:
		if _, err := l.index.Record(context.Background(), ref, env); err != nil {
			t.Fatal(err)
		}
		l.segs++
		return
	case *pb.Envelope_PlanSegmentDeleted:
		if err := l.index.Delete(context.Background(), ref, env, 0); err != nil {
			t.Fatal(err)
		}
		l.segs++
		return
	}
	seq, err := l.store.Append(context.Background(), ref, env, l.last[key])
	if err != nil {
		t.Fatalf("append %s %s: %v", id, env.Type, err)
	}
	l.last[key] = seq
	l.n++
}

// rounds appends rounds×10 events per device for devices devices (the
// first round also registers them).
func (l *mixedLog) rounds(t *testing.T, devices, from, rounds int) {
	t.Helper()
	for r := from; r < from+rounds; r++ {
		for d := range devices {
			dev := fmt.Sprintf("cam-%02d", d)
			ch := fmt.Sprintf("%s~1", dev)
			at := t0.Add(time.Duration(r)*time.Hour + time.Duration(d)*time.Second)
			if r == 0 {
				l.add(t, events.KindDevice, dev, at, &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{
					Name: dev, Url: "rtsp://cam/" + dev, Channels: 2, Labels: map[string]string{"site": "a"}}}})
			}
			name := fmt.Sprintf("%s-r%d", dev, r)
			l.add(t, events.KindDevice, dev, at.Add(time.Minute), &pb.Envelope{Payload: &pb.Envelope_DeviceUpdated{DeviceUpdated: &pb.DeviceUpdated{Name: &name}}})
			l.add(t, events.KindDevice, dev, at.Add(2*time.Minute), online())
			l.add(t, events.KindStream, ch, at.Add(3*time.Minute), started(dev, 1))
			l.add(t, events.KindPlan, ch, at.Add(4*time.Minute), segment(dev, 1, time.Duration(r)*time.Hour+4*time.Minute, time.Minute, int64(1000+r)))
			l.add(t, events.KindPlan, ch, at.Add(5*time.Minute), segment(dev, 1, time.Duration(r)*time.Hour+5*time.Minute, time.Minute, int64(2000+d)))
			l.add(t, events.KindStream, ch, at.Add(6*time.Minute), stopped(uint32(d%5)))
			l.add(t, events.KindDevice, dev, at.Add(7*time.Minute), offline())
			if r%3 == 0 {
				start := t0.Add(time.Duration(r)*time.Hour + 4*time.Minute).UnixMilli()
				l.add(t, events.KindPlan, ch, at.Add(8*time.Minute), &pb.Envelope{Payload: &pb.Envelope_PlanSegmentDeleted{PlanSegmentDeleted: &pb.PlanSegmentDeleted{
					Key: fmt.Sprintf("%s/1/%d", dev, start), Reason: "retention", Device: dev, Channel: 1, StartUnixMs: start}}})
			}
			l.add(t, events.KindDevice, dev, at.Add(9*time.Minute), online())
		}
	}
}

// aggQueries are row count plus content aggregates of each table (FINAL).
var aggQueries = map[string]string{
	"events":          "SELECT count(), sum(seq), sum(cityHash64(type, aggregate_kind, aggregate_id, version, time_ms, data)) FROM argus.events FINAL",
	"devices":         "SELECT count(), sum(version), sum(cityHash64(id, name, url, status, removed, label_keys, label_values, seq)) FROM argus.devices FINAL",
	"recordings":      "SELECT count(), sum(bytes), sum(cityHash64(device, channel, start_ms, end_ms, key, deleted, seq)) FROM argus.recordings FINAL",
	"device_status":   "SELECT count(), sum(end_ms), sum(cityHash64(device, status, start_ms, end_ms, seq)) FROM argus.device_status FINAL",
	"stream_sessions": "SELECT count(), sum(bytes), sum(cityHash64(device, channel, node, start_ms, end_ms, peak_readers, reason, seq)) FROM argus.stream_sessions FINAL",
}

type agg struct{ n, sum, hash uint64 }

func aggregates(t *testing.T, conn driver.Conn) map[string]agg {
	t.Helper()
	out := map[string]agg{}
	for table, q := range aggQueries {
		var a agg
		if err := conn.QueryRow(context.Background(), q).Scan(&a.n, &a.sum, &a.hash); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = a
	}
	return out
}

func waitServiceLag0(t *testing.T, svc *projections.Service) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		lag, err := svc.Lag(context.Background())
		return err == nil && lag == 0, fmt.Sprintf("service lag %d, err %v", lag, err)
	})
}

func TestRebuildEqualsIncrementalAndSwapsAtomically(t *testing.T) {
	// A private server: the service writes the real database "argus".
	ch := testenv.NewClickHouse(t)
	conn := chConn(t, ch.Addr())
	store := openStore(t)
	index, err := store.OpenSegments(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	log := &mixedLog{store: store, index: index, last: map[string]uint64{}, ver: map[string]uint64{}}

	// Recordings read the segment index stream, the rest the event log:
	// the rebuild replays both and swaps every table at once.
	svc := projections.NewService(ch.Addr(), store.Stream(), testLogger(t), projections.WithSegments(index.Stream()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-svc.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("projections not ready")
	}

	// Incremental projection of ~3000 events.
	log.rounds(t, 30, 0, 12)
	if log.n < 2000 || log.segs < 700 {
		t.Fatalf("only %d events", log.n)
	}
	waitServiceLag0(t, svc)
	incremental := aggregates(t, conn)
	if incremental["events"].n != uint64(log.n) {
		t.Fatalf("events rows %d; want %d", incremental["events"].n, log.n)
	}
	for table, a := range incremental {
		if a.n == 0 {
			t.Fatalf("%s is empty after the incremental projection", table)
		}
	}

	if err := svc.Rebuild(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "unknown projector") {
		t.Fatalf("Rebuild(nope) = %v; want unknown projector", err)
	}
	if err := svc.Rebuild(context.Background(), projections.RebuildAll); err != nil {
		t.Fatal(err)
	}
	if err := svc.Rebuild(context.Background(), "events"); err != projections.ErrRebuildRunning {
		t.Fatalf("second Rebuild = %v; want ErrRebuildRunning", err)
	}

	// Readers during the rebuild never see fewer rows than before.
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		queries atomic.Int64
		bad     = make(chan string, 100)
	)
	for table, q := range aggQueries {
		wg.Go(func() {
			for !stop.Load() {
				var a agg
				if err := conn.QueryRow(context.Background(), q).Scan(&a.n, &a.sum, &a.hash); err != nil {
					select {
					case bad <- fmt.Sprintf("%s: %v", table, err):
					default:
					}
					continue
				}
				queries.Add(1)
				if a.n < incremental[table].n {
					select {
					case bad <- fmt.Sprintf("%s: %d rows during the rebuild; had %d", table, a.n, incremental[table].n):
					default:
					}
				}
			}
		})
	}
	var final []projections.ProjectorStatus
	eventually(t, 120*time.Second, func() (bool, string) {
		st, err := svc.Status(context.Background())
		if err != nil {
			return false, err.Error()
		}
		final = st
		for _, p := range st {
			if p.Rebuild == nil || p.Rebuild.State == projections.RebuildRunning {
				return false, fmt.Sprintf("%s still rebuilding: %+v", p.Name, p.Rebuild)
			}
		}
		return true, ""
	})
	stop.Store(true)
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
	t.Logf("%d queries during the rebuild", queries.Load())
	for _, p := range final {
		r := p.Rebuild
		if r.State != projections.RebuildDone || r.Error != "" {
			t.Fatalf("%s: rebuild %+v", p.Name, r)
		}
		want := uint64(log.n)
		if p.Name == "recordings" {
			want = uint64(log.segs)
		}
		if r.Done != want || r.Total != want {
			t.Errorf("%s: progress %d/%d; want %d/%d", p.Name, r.Done, r.Total, want, want)
		}
		if len(p.Tables) != 1 || p.Tables[0] != "argus."+p.Name {
			t.Errorf("%s: tables %v", p.Name, p.Tables)
		}
		t.Logf("%s: %d events, %.0f ev/s", p.Name, r.Done, r.EventsPerSec)
	}

	// Rebuilt tables equal the incremental ones.
	waitServiceLag0(t, svc)
	rebuilt := aggregates(t, conn)
	for table, a := range incremental {
		if rebuilt[table] != a {
			t.Errorf("%s: rebuilt %+v; incremental %+v", table, rebuilt[table], a)
		}
	}
	// No leftover databases.
	var leftovers uint64
	if err := conn.QueryRow(context.Background(),
		"SELECT count() FROM system.databases WHERE name LIKE 'argus_rebuild_%' OR name LIKE 'argus_old_%'").Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("%d rebuild databases left over", leftovers)
	}

	// The live projectors continue on the new tables: each new event once.
	log.rounds(t, 30, 12, 2)
	waitServiceLag0(t, svc)
	eventually(t, 20*time.Second, func() (bool, string) {
		n, uniq, err := counts(conn, "argus.events")
		return err == nil && n == uint64(log.n) && uniq == n, fmt.Sprintf("argus.events FINAL: %d rows, %d seqs, err %v; want %d", n, uniq, err, log.n)
	})
	var devs, atVersion uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), countIf(name = concat(id, '-r13')) FROM argus.devices FINAL").Scan(&devs, &atVersion); err != nil {
		t.Fatal(err)
	}
	if devs != 30 || atVersion != 30 {
		t.Errorf("devices: %d rows, %d at the latest name; want 30, 30", devs, atVersion)
	}
	// Open status intervals: one per device (each last went online).
	var open uint64
	if err := conn.QueryRow(context.Background(), "SELECT countIf(end_ms = 0) FROM argus.device_status FINAL").Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 30 {
		t.Errorf("%d open status intervals; want 30", open)
	}
	// Compacted hours (events/segments_compact.go) project, and rebuild,
	// into the same recordings.
	const recordings = "SELECT count(), sum(bytes), sum(cityHash64(device, channel, start_ms, end_ms, key, deleted)) FROM argus.recordings FINAL"
	rows := func() (a agg) {
		t.Helper()
		if err := conn.QueryRow(context.Background(), recordings).Scan(&a.n, &a.sum, &a.hash); err != nil {
			t.Fatal(err)
		}
		return a
	}
	uncompacted := rows()
	hours := 0
	for d := range 30 {
		dev := fmt.Sprintf("cam-%02d", d)
		plan := events.Ref{Shard: events.ShardOf(dev, events.DefaultShards), Kind: events.KindPlan, ID: dev + "~1"}
		n, err := index.CompactHours(context.Background(), plan, "n1", time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		hours += n
	}
	if hours < 30*14 {
		t.Fatalf("compacted %d hours, want one per device and round", hours)
	}
	waitServiceLag0(t, svc)
	if got := rows(); got != uncompacted {
		t.Errorf("recordings after compaction %+v; before %+v", got, uncompacted)
	}
	if err := svc.Rebuild(context.Background(), "recordings"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() (bool, string) {
		st, err := svc.Status(context.Background())
		for _, p := range st {
			if p.Name == "recordings" && (p.Rebuild == nil || p.Rebuild.State != projections.RebuildDone) {
				return false, fmt.Sprintf("rebuild %+v", p.Rebuild)
			}
		}
		return err == nil, fmt.Sprint(err)
	})
	if got := rows(); got != uncompacted {
		t.Errorf("recordings rebuilt from compacted hours %+v; before %+v", got, uncompacted)
	}
}

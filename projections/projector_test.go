package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
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
	"github.com/nats-io/nats.go/jetstream"
)

// ---- helpers -------------------------------------------------------------

// chConn connects to the ClickHouse at addr; closed when the test ends.
func chConn(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := projections.Connect(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// testDB returns a database name of this test alone (the shared server is
// used by every test of the binary), dropped when the test ends.
func testDB(t *testing.T, conn driver.Conn) string {
	t.Helper()
	db := fmt.Sprintf("t_%s_%d", nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})
	return db
}

// migratedDB is testDB with the Argus schema in it.
func migratedDB(t *testing.T, conn driver.Conn) string {
	t.Helper()
	db := testDB(t, conn)
	if err := projections.MigrateInto(context.Background(), conn, db); err != nil {
		t.Fatal(err)
	}
	return db
}

func openStore(t *testing.T) *events.Store {
	t.Helper()
	srv := testenv.NewNATS(t)
	st, err := events.Open(context.Background(), testenv.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testLogger writes through t.Log; every projector goroutine of a test ends
// before the test does.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// running is a projector in its own goroutine.
type running struct {
	p      *projections.Projector
	cancel context.CancelFunc
	done   chan struct{}
}

// startProjector creates (or resumes) the sink's durable consumer and runs a
// projector on it until stop or the end of the test.
func startProjector(t *testing.T, stream jetstream.Stream, sink projections.Sink) *running {
	t.Helper()
	p, err := projections.NewProjector(context.Background(), stream, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); p.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop cancels the projector and waits until Run returned.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// eventually polls cond until it holds or timeout passes; then fails with
// cond's last description.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, desc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counts is count() and uniqExact(seq) of table FINAL.
func counts(conn driver.Conn, table string) (n, uniq uint64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = conn.QueryRow(ctx, "SELECT count(), uniqExact(seq) FROM "+table+" FINAL").Scan(&n, &uniq)
	return n, uniq, err
}

// waitEvents waits until table FINAL holds exactly want rows with distinct seqs.
func waitEvents(t *testing.T, conn driver.Conn, table string, want uint64, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() (bool, string) {
		n, uniq, err := counts(conn, table)
		return err == nil && n == want && uniq == want,
			fmt.Sprintf("%s FINAL: count %d, uniqExact(seq) %d, err %v; want %d", table, n, uniq, err, want)
	})
}

func waitLag0(t *testing.T, p *projections.Projector, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() (bool, string) {
		lag, err := p.Lag(context.Background())
		return err == nil && lag == 0, fmt.Sprintf("lag %d, err %v; want 0", lag, err)
	})
}

// ---- events of a device history ------------------------------------------

// history builds device events with stream sequences and per-device
// versions as JetStream and the aggregate would give them.
type history struct {
	seq      uint64
	versions map[string]uint64
	evs      []events.Event
}

func (h *history) add(id string, payload func(*pb.Envelope)) events.Event {
	if h.versions == nil {
		h.versions = map[string]uint64{}
	}
	h.seq++
	h.versions[id]++
	env := &pb.Envelope{
		EventId:       fmt.Sprintf("%s-%d", id, h.versions[id]),
		AggregateKind: events.KindDevice,
		AggregateId:   id,
		Version:       h.versions[id],
		TimeUnixMs:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli() + int64(h.seq)*1000,
		Node:          "n1",
	}
	payload(env)
	env.Type = events.TypeOf(env)
	e := events.Event{Seq: h.seq, Subject: events.Ref{Shard: events.ShardOf(id, events.DefaultShards), Kind: events.KindDevice, ID: id}.Subject(), Envelope: env}
	h.evs = append(h.evs, e)
	return e
}

func registered(name, user string, labels map[string]string) func(*pb.Envelope) {
	return func(env *pb.Envelope) {
		env.Payload = &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{
			Name: name, Url: "rtsp://cam/" + name, Username: user, SealedPassword: []byte("sealed-password-" + name),
			Channels: 2, Labels: labels,
		}}
	}
}

func updated(name string, labels map[string]string) func(*pb.Envelope) {
	return func(env *pb.Envelope) {
		u := &pb.DeviceUpdated{Name: &name}
		if labels != nil {
			u.Labels = &pb.LabelSet{Labels: labels}
		}
		env.Payload = &pb.Envelope_DeviceUpdated{DeviceUpdated: u}
	}
}

func credentialsChanged(user string) func(*pb.Envelope) {
	return func(env *pb.Envelope) {
		env.Payload = &pb.Envelope_DeviceCredentialsChanged{DeviceCredentialsChanged: &pb.DeviceCredentialsChanged{
			Username: user, SealedPassword: []byte("sealed-password-of-" + user),
		}}
	}
}

func removed(env *pb.Envelope) {
	env.Payload = &pb.Envelope_DeviceRemoved{DeviceRemoved: &pb.DeviceRemoved{}}
}

// ---- 1. EventsSink: redelivery ---------------------------------------------

func TestEventsSinkRedeliveryIsHarmless(t *testing.T) {
	ctx := context.Background()
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	table := migratedDB(t, conn) + ".events"
	sink := &projections.EventsSink{Conn: conn, Table: table}

	var h history
	for i := range 300 {
		id := fmt.Sprintf("cam-%d", i%30)
		if h.versions[id] == 0 {
			h.add(id, registered(id, "admin", map[string]string{"site": "a"}))
		} else {
			h.add(id, updated(fmt.Sprintf("%s-v%d", id, i), nil))
		}
	}
	// The whole batch twice (ack lost), then an overlapping tail (partial
	// redelivery after a failed insert).
	for _, b := range [][]events.Event{h.evs, h.evs, h.evs[250:]} {
		if err := sink.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	n, uniq, err := counts(conn, table)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300 || uniq != 300 {
		t.Fatalf("FINAL: count %d, uniqExact(seq) %d; want 300 distinct seqs", n, uniq)
	}
	// The rows are the events: fields, and payloads without secrets.
	var (
		typ, agg, data string
		version, tms   uint64
	)
	if err := conn.QueryRow(ctx, "SELECT type, aggregate_id, version, time_ms, data FROM "+table+" FINAL WHERE seq = 1").
		Scan(&typ, &agg, &version, &tms, &data); err != nil {
		t.Fatal(err)
	}
	first := h.evs[0].Envelope
	if typ != "device.registered" || agg != first.AggregateId || version != 1 || tms != uint64(first.TimeUnixMs) {
		t.Fatalf("row seq 1 = %s %s v%d t%d; want device.registered %s v1 t%d", typ, agg, version, tms, first.AggregateId, first.TimeUnixMs)
	}
	if !strings.Contains(data, `"username":"admin"`) || strings.Contains(data, "password") {
		t.Fatalf("data of seq 1 = %s; want the payload without its sealed password", data)
	}
	var leaks uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE position(data, 'password') > 0").Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("%d rows mention a password (err %v)", leaks, err)
	}
}

// ---- 2. DevicesSink: fold, restart, redelivery -----------------------------

type deviceRow struct {
	Name, URL, Username, Status string
	Labels                      map[string]string
	Version, Seq                uint64
	Removed                     uint8
	CreatedAt, UpdatedAt        time.Time
}

func deviceRows(t *testing.T, conn driver.Conn, table string) map[string]deviceRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT id, name, url, username, status, label_keys, label_values, version, seq, removed, created_at, updated_at FROM "+table+" FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]deviceRow{}
	for rows.Next() {
		var (
			id         string
			r          deviceRow
			keys, vals []string
		)
		if err := rows.Scan(&id, &r.Name, &r.URL, &r.Username, &r.Status, &keys, &vals, &r.Version, &r.Seq, &r.Removed, &r.CreatedAt, &r.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		if len(keys) != len(vals) {
			t.Fatalf("%s: %d label keys, %d values", id, len(keys), len(vals))
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s: label keys not sorted: %v", id, keys)
		}
		r.Labels = map[string]string{}
		for i, k := range keys {
			r.Labels[k] = vals[i]
		}
		if _, dup := out[id]; dup {
			t.Fatalf("%s: more than one row under FINAL", id)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkDevice(t *testing.T, got map[string]deviceRow, id string, want deviceRow) {
	t.Helper()
	r, ok := got[id]
	if !ok {
		t.Fatalf("%s: no row", id)
	}
	if r.Name != want.Name || r.Username != want.Username || r.Version != want.Version || r.Seq != want.Seq ||
		r.Removed != want.Removed || !maps.Equal(r.Labels, want.Labels) || r.Status != "unknown" {
		t.Fatalf("%s row:\n got  name=%q user=%q labels=%v version=%d seq=%d removed=%d status=%q\n want name=%q user=%q labels=%v version=%d seq=%d removed=%d",
			id, r.Name, r.Username, r.Labels, r.Version, r.Seq, r.Removed, r.Status,
			want.Name, want.Username, want.Labels, want.Version, want.Seq, want.Removed)
	}
	if !want.CreatedAt.IsZero() && !r.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s created_at %v; want %v", id, r.CreatedAt, want.CreatedAt)
	}
	if !want.UpdatedAt.IsZero() && !r.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("%s updated_at %v; want %v", id, r.UpdatedAt, want.UpdatedAt)
	}
}

func evTime(e events.Event) time.Time { return time.UnixMilli(e.Envelope.TimeUnixMs).UTC() }

func TestDevicesSinkFoldsAndSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	table := migratedDB(t, conn) + ".devices"

	var h history
	h.add("cam-a", registered("front", "u1", map[string]string{"site": "hq"}))                // 1
	h.add("cam-b", registered("back", "ub", nil))                                             // 2
	h.add("cam-a", updated("front door", map[string]string{"site": "hq", "floor": "2"}))      // 3
	h.add("cam-c", registered("gone", "uc", map[string]string{"tmp": "1"}))                   // 4
	h.add("cam-a", credentialsChanged("u2"))                                                  // 5
	h.add("cam-b", updated("back yard", nil))                                                 // 6
	h.add("cam-a", removed)                                                                   // 7
	h.add("cam-c", removed)                                                                   // 8
	reg := h.add("cam-a", registered("front again", "u3", map[string]string{"zone": "east"})) // 9
	firstRun := slices.Clone(h.evs)
	upd := h.add("cam-a", updated("front final", map[string]string{"zone": "east", "row": "1"})) // 10

	// First process: the history in two batches.
	s1 := &projections.DevicesSink{Conn: conn, Table: table}
	if err := s1.Write(ctx, firstRun[:4]); err != nil {
		t.Fatal(err)
	}
	rows := deviceRows(t, conn, table)
	checkDevice(t, rows, "cam-a", deviceRow{Name: "front door", Username: "u1", Labels: map[string]string{"site": "hq", "floor": "2"}, Version: 2, Seq: 3,
		CreatedAt: evTime(firstRun[0]), UpdatedAt: evTime(firstRun[2])})
	if err := s1.Write(ctx, firstRun[4:]); err != nil {
		t.Fatal(err)
	}
	rows = deviceRows(t, conn, table)
	checkDevice(t, rows, "cam-a", deviceRow{Name: "front again", Username: "u3", Labels: map[string]string{"zone": "east"}, Version: 5, Seq: 9,
		CreatedAt: evTime(reg), UpdatedAt: evTime(reg)})
	checkDevice(t, rows, "cam-b", deviceRow{Name: "back yard", Username: "ub", Labels: map[string]string{}, Version: 2, Seq: 6})
	checkDevice(t, rows, "cam-c", deviceRow{Name: "gone", Username: "uc", Labels: map[string]string{"tmp": "1"}, Version: 2, Seq: 8, Removed: 1})

	// After a restart (empty cache) the consumer redelivers from the start,
	// plus one new event; once more with the history split differently.
	wantA := deviceRow{Name: "front final", Username: "u3", Labels: map[string]string{"zone": "east", "row": "1"}, Version: 6, Seq: 10,
		CreatedAt: evTime(reg), UpdatedAt: evTime(upd)}
	s2 := &projections.DevicesSink{Conn: conn, Table: table}
	if err := s2.Write(ctx, h.evs); err != nil {
		t.Fatal(err)
	}
	s3 := &projections.DevicesSink{Conn: conn, Table: table}
	for _, b := range [][]events.Event{h.evs[:5], h.evs[5:]} {
		if err := s3.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	rows = deviceRows(t, conn, table)
	if len(rows) != 3 {
		t.Fatalf("%d device rows under FINAL; want 3", len(rows))
	}
	checkDevice(t, rows, "cam-a", wantA)
	checkDevice(t, rows, "cam-b", deviceRow{Name: "back yard", Username: "ub", Labels: map[string]string{}, Version: 2, Seq: 6})
	checkDevice(t, rows, "cam-c", deviceRow{Name: "gone", Username: "uc", Labels: map[string]string{"tmp": "1"}, Version: 2, Seq: 8, Removed: 1})

	// The devices table has a username and nothing that holds a password.
	dbName, tblName, _ := strings.Cut(table, ".")
	cols, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", dbName, tblName)
	if err != nil {
		t.Fatal(err)
	}
	defer cols.Close()
	var names []string
	for cols.Next() {
		var name string
		if err := cols.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if !slices.Contains(names, "username") {
		t.Fatalf("devices columns %v: no username", names)
	}
	for _, n := range names {
		if l := strings.ToLower(n); strings.Contains(l, "password") || strings.Contains(l, "secret") || strings.Contains(l, "sealed") {
			t.Fatalf("devices column %q holds a secret", n)
		}
	}
}

// ---- 3. Projector end to end ----------------------------------------------

// appender writes device events through the store with optimistic
// concurrency, as the device actors do.
type appender struct {
	store *events.Store
	mu    sync.Mutex
	last  map[string]uint64 // expected last sequence per device
	ver   map[string]uint64
	n     atomic.Uint64 // events appended
}

func newAppender(store *events.Store) *appender {
	return &appender{store: store, last: map[string]uint64{}, ver: map[string]uint64{}}
}

// append adds one event to device id (registered first, then updates).
func (a *appender) append(ctx context.Context, id string) error {
	a.mu.Lock()
	last, v := a.last[id], a.ver[id]+1
	a.mu.Unlock()
	env := &pb.Envelope{
		EventId: fmt.Sprintf("%s-%d", id, v), AggregateKind: events.KindDevice, AggregateId: id,
		Version: v, TimeUnixMs: time.Now().UnixMilli(), Node: "test",
	}
	if v == 1 {
		registered(id, "admin", map[string]string{"n": "1"})(env)
	} else {
		updated(fmt.Sprintf("%s-%d", id, v), nil)(env)
	}
	env.Type = events.TypeOf(env)
	seq, err := a.store.Append(ctx, events.Ref{Shard: events.ShardOf(id, events.DefaultShards), Kind: events.KindDevice, ID: id}, env, last)
	if err != nil {
		return fmt.Errorf("append %s v%d: %w", id, v, err)
	}
	a.mu.Lock()
	a.last[id], a.ver[id] = seq, v
	a.mu.Unlock()
	a.n.Add(1)
	return nil
}

// fill appends perDevice events to each of devices devices, one goroutine
// per device (appends of one device stay in order).
func (a *appender) fill(t *testing.T, devices, perDevice int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for d := range devices {
		wg.Go(func() {
			for range perDevice {
				if err := a.append(context.Background(), fmt.Sprintf("dev-%02d", d)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestProjectorEndToEndAndResume(t *testing.T) {
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	db := migratedDB(t, conn)
	store := openStore(t)
	app := newAppender(store)
	app.fill(t, 50, 40)

	evSink := &projections.EventsSink{Conn: conn, Table: db + ".events"}
	devSink := &projections.DevicesSink{Conn: conn, Table: db + ".devices"}
	pe := startProjector(t, store.Stream(), evSink)
	pd := startProjector(t, store.Stream(), devSink)
	waitEvents(t, conn, evSink.Table, 2000, 20*time.Second)
	waitLag0(t, pe.p, 10*time.Second)
	waitLag0(t, pd.p, 10*time.Second)
	checkDevices(t, conn, devSink.Table, 50, 40)
	pe.stop()
	pd.stop()

	// Stopped projectors: the log moves on.
	app.fill(t, 50, 10)
	if n, _, err := counts(conn, evSink.Table); err != nil || n != 2000 {
		t.Fatalf("stopped projector still wrote: %d rows (err %v)", n, err)
	}

	// New projectors (fresh sinks, as after a restart) resume the durables.
	pe = startProjector(t, store.Stream(), &projections.EventsSink{Conn: conn, Table: evSink.Table})
	pd = startProjector(t, store.Stream(), &projections.DevicesSink{Conn: conn, Table: devSink.Table})
	waitEvents(t, conn, evSink.Table, 2500, 20*time.Second)
	waitLag0(t, pe.p, 10*time.Second)
	waitLag0(t, pd.p, 10*time.Second)
	checkDevices(t, conn, devSink.Table, 50, 50)

	// Nothing was written twice, not even before merges: the resumed
	// consumer started after the last ack.
	var raw, maxSeq uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), max(seq) FROM "+evSink.Table).Scan(&raw, &maxSeq); err != nil {
		t.Fatal(err)
	}
	last, err := store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if raw != 2500 || maxSeq != last {
		t.Fatalf("raw rows %d, max(seq) %d; want 2500 rows up to the log's last seq %d", raw, maxSeq, last)
	}
}

// checkDevices: one row per device, each at version want, none removed.
func checkDevices(t *testing.T, conn driver.Conn, table string, devices, version uint64) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		var n, atVersion, removed uint64
		err := conn.QueryRow(context.Background(), "SELECT count(), countIf(version = ?), sum(removed) FROM "+table+" FINAL", version).
			Scan(&n, &atVersion, &removed)
		return err == nil && n == devices && atVersion == devices && removed == 0,
			fmt.Sprintf("%s FINAL: %d rows, %d at version %d, %d removed, err %v; want %d rows at version %d", table, n, atVersion, version, removed, err, devices, version)
	})
}

// ---- 4. ClickHouse down ----------------------------------------------------

func TestProjectorClickHouseKilledAndRestarted(t *testing.T) {
	ch := testenv.NewClickHouse(t)
	conn := chConn(t, ch.Addr())
	db := migratedDB(t, conn)
	table := db + ".events"
	store := openStore(t)
	app := newAppender(store)

	p := startProjector(t, store.Stream(), &projections.EventsSink{Conn: conn, Table: table})

	// Appends keep coming for the whole test, ClickHouse or not.
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	go func() {
		defer close(loadDone)
		for i := 0; ctx.Err() == nil; i++ {
			if err := app.append(context.Background(), fmt.Sprintf("dev-%02d", i%20)); err != nil {
				loadDone <- err
				return
			}
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	defer stopLoad()

	eventually(t, 10*time.Second, func() (bool, string) {
		n, _, err := counts(conn, table)
		return err == nil && n > 200, fmt.Sprintf("projected %d before the kill (err %v)", n, err)
	})
	if err := ch.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := app.n.Load()
	time.Sleep(3 * time.Second)
	if app.n.Load() <= killedAt {
		t.Fatal("no events appended while ClickHouse was down")
	}
	if lag, err := p.p.Lag(context.Background()); err != nil || lag == 0 {
		t.Fatalf("lag %d with ClickHouse down (err %v); want > 0", lag, err)
	}
	if err := ch.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatal(err)
	}
	want := app.n.Load()
	t.Logf("%d events appended, %d of them while ClickHouse was down", want, want-killedAt)
	waitEvents(t, conn, table, want, 30*time.Second)
	waitLag0(t, p.p, 10*time.Second)
}

// ---- 5. Stopped while a batch is in flight ---------------------------------

// A projector stopped (or dead) while its batch cannot be written — a node
// shut down while ClickHouse refuses inserts — must not lose that batch: the
// next projector on the durable consumer writes it, in order, although newer
// events exist and their batch is acknowledged with AckAll.
func TestProjectorStoppedMidBatchLosesNothing(t *testing.T) {
	ctx := context.Background()
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	db := testDB(t, conn)
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	// No tables yet: every insert fails until MigrateInto below.
	evTable, devTable := db+".events", db+".devices"
	store := openStore(t)
	app := newAppender(store)
	app.fill(t, 10, 30)

	pe := startProjector(t, store.Stream(), &projections.EventsSink{Conn: conn, Table: evTable})
	pd := startProjector(t, store.Stream(), &projections.DevicesSink{Conn: conn, Table: devTable})
	for _, sink := range []string{"events", "devices"} {
		cons, err := store.Stream().Consumer(ctx, projections.ConsumerName(sink))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			info, err := cons.Info(ctx)
			if err != nil {
				return false, err.Error()
			}
			return info.NumAckPending == 300, fmt.Sprintf("%s: %d ack pending; want the batch of 300 in flight", sink, info.NumAckPending)
		})
	}
	// Fetch returns after FetchMaxWait (500 ms); then inserts fail and retry.
	time.Sleep(1200 * time.Millisecond)
	pe.stop()
	pd.stop()

	app.fill(t, 10, 5)
	if err := projections.MigrateInto(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	pe = startProjector(t, store.Stream(), &projections.EventsSink{Conn: conn, Table: evTable})
	pd = startProjector(t, store.Stream(), &projections.DevicesSink{Conn: conn, Table: devTable})
	waitEvents(t, conn, evTable, 350, 10*time.Second)
	checkDevices(t, conn, devTable, 10, 35)
	waitLag0(t, pe.p, 5*time.Second)
	waitLag0(t, pd.p, 5*time.Second)
}

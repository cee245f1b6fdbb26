package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/test/testenv"
)

// shortConn is a client of the test's own with short timeouts: a paused
// (SIGSTOPped) server accepts TCP connections but never answers, so a
// default client would block in the handshake for its full ReadTimeout.
func shortConn(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:         []string{addr},
		Auth:         clickhouse.Auth{Username: "default"},
		DialTimeout:  time.Second,
		ReadTimeout:  5 * time.Second,
		MaxOpenConns: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestClickHouseOutage30s: under a steady event load (~500/s) ClickHouse is
// stopped with SIGSTOP for 30 s, continued, and 5 s later killed and
// restarted. Appends never wait for ClickHouse; afterwards argus.events
// holds every appended event exactly once (FINAL), within 60 s.
func TestClickHouseOutage30s(t *testing.T) {
	ch := testenv.NewClickHouse(t)
	store := openStore(t)
	app := newAppender(store)

	svc := projections.NewService(ch.Addr(), store.Stream(), testLogger(t))
	svcCtx, svcCancel := context.WithCancel(context.Background())
	svcDone := make(chan struct{})
	go func() { defer close(svcDone); svc.Run(svcCtx) }()
	// Registered after NewClickHouse's cleanup: runs first (LIFO), so the
	// service ends before its server goes away.
	t.Cleanup(func() { svcCancel(); <-svcDone })
	select {
	case <-svc.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("projections not ready")
	}
	conn := shortConn(t, ch.Addr())

	// ~500 events/s over 20 devices for the whole outage, paced against the
	// wall clock (one event every 2 ms).
	const (
		rate    = 500
		devices = 20
	)
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var (
		loadErr  error
		loadDone = make(chan struct{})
		slowest  time.Duration
		slowMu   sync.Mutex
	)
	go func() {
		defer close(loadDone)
		start := time.Now()
		for i := 0; loadCtx.Err() == nil; i++ {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d)
			}
			t0 := time.Now()
			actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := app.append(actx, fmt.Sprintf("dev-%02d", i%devices))
			cancel()
			if err != nil {
				loadErr = err
				return
			}
			slowMu.Lock()
			slowest = max(slowest, time.Since(t0))
			slowMu.Unlock()
		}
	}()
	defer stopLoad()
	loadFailed := func() {
		select {
		case <-loadDone:
			t.Fatalf("appender stopped: %v", loadErr)
		default:
		}
	}

	// Warm up: the projection keeps up before the outage.
	eventually(t, 20*time.Second, func() (bool, string) {
		n, _, err := counts(conn, "argus.events")
		return err == nil && n >= 1000, fmt.Sprintf("projected %d before the outage (err %v)", n, err)
	})
	loadFailed()

	// 30 s SIGSTOP.
	if err := ch.Pause(); err != nil {
		t.Fatal(err)
	}
	pausedAt := app.n.Load()
	time.Sleep(30 * time.Second)
	loadFailed()
	duringPause := app.n.Load() - pausedAt
	lagPaused, lagErr := svc.Lag(context.Background())
	if err := ch.Resume(); err != nil {
		t.Fatal(err)
	}
	t.Logf("paused 30 s: %d events appended meanwhile, service lag %d (err %v)", duringPause, lagPaused, lagErr)
	if duringPause < 30*rate/2 {
		t.Fatalf("only %d events appended during the 30 s pause; want ~%d (appends must not wait for ClickHouse)", duringPause, 30*rate)
	}
	if lagErr == nil && lagPaused == 0 {
		t.Errorf("service lag 0 while ClickHouse was paused; want > 0")
	}

	// 5 s later: SIGKILL and restart on the same data.
	time.Sleep(5 * time.Second)
	if err := ch.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := app.n.Load()
	time.Sleep(time.Second)
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	err := ch.Restart(rctx)
	rcancel()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	<-loadDone
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	want := app.n.Load()
	slowMu.Lock()
	t.Logf("%d events appended in all (%d during the pause, %d from the kill to the end); slowest append %v",
		want, duringPause, want-killedAt, slowest)
	slowMu.Unlock()

	caughtUp := time.Now()
	waitEvents(t, conn, "argus.events", want, 60*time.Second)
	t.Logf("argus.events FINAL = %d distinct seqs %v after the load stopped", want, time.Since(caughtUp).Round(time.Millisecond))
	eventually(t, 30*time.Second, func() (bool, string) {
		lag, err := svc.Lag(context.Background())
		return err == nil && lag == 0, fmt.Sprintf("service lag %d, err %v; want 0", lag, err)
	})
}

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/test/testenv"
)

// ClickHouse restarted under command load: afterwards the projections equal
// the log — every device once, every event once.
func TestProjectionSurvivesClickHouseRestart(t *testing.T) {
	ch := testenv.NewClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr()})
	ctx := context.Background()
	conn, err := projections.Connect(ctx, ch.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const devices = 400
	var wg sync.WaitGroup
	load := func(from, to int) {
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < to; i += 8 {
					id := fmt.Sprintf("chr-%d", i)
					if st, _, b := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"d","url":"rtsp://h/%d","password":"pw-never-projected"}`, id, i)); st != 201 {
						t.Errorf("create %s: %d %s", id, st, b)
					}
					if st, _, b := n.Do("PATCH", "/v1/devices/"+id, "", `{"name":"renamed"}`); st != 200 {
						t.Errorf("patch %s: %d %s", id, st, b)
					}
				}
			}()
		}
	}
	load(0, devices/2)
	time.Sleep(300 * time.Millisecond)
	// Kill ClickHouse while commands keep coming: commands still succeed,
	// analytics say 503 until it is back.
	if err := ch.Kill(); err != nil {
		t.Fatal(err)
	}
	if st, _, body := n.Do("GET", "/v1/analytics/events", "", ""); st != 503 {
		t.Errorf("analytics with clickhouse down: %d %s", st, body)
	}
	load(devices/2, devices)
	time.Sleep(2 * time.Second)
	if err := ch.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := 0; i < 10; i += 3 {
		n.Do("DELETE", fmt.Sprintf("/v1/devices/chr-%d", i), "", "")
	}

	// Both events per device and the deletes, exactly once, FINAL (the node
	// also records owning its shards: other kinds).
	wantEvents := uint64(devices*2 + 4)
	var gotEvents, uniq, gotDevices, removed, renamed uint64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		row := conn.QueryRow(ctx, "SELECT count(), uniqExact(seq) FROM argus.events FINAL WHERE aggregate_kind = 'device'")
		if err := row.Scan(&gotEvents, &uniq); err == nil && gotEvents == wantEvents {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if gotEvents != wantEvents || uniq != gotEvents {
		t.Fatalf("argus.events FINAL: %d rows, %d unique seqs; want %d", gotEvents, uniq, wantEvents)
	}
	for time.Now().Before(deadline) {
		if err := conn.QueryRow(ctx, "SELECT count(), sum(removed), countIf(name = 'renamed') FROM argus.devices FINAL").Scan(&gotDevices, &removed, &renamed); err == nil && removed == 4 && renamed == devices {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if gotDevices != devices || removed != 4 || renamed != devices {
		t.Fatalf("argus.devices FINAL: %d rows, %d removed, %d renamed; want %d, 4, %d", gotDevices, removed, renamed, devices, devices)
	}
	var leaks uint64
	conn.QueryRow(ctx, "SELECT count() FROM argus.events WHERE position(data, 'pw-never-projected') > 0 OR position(data, 'password') > 0").Scan(&leaks)
	if leaks != 0 {
		t.Fatalf("%d event rows carry a password", leaks)
	}
}

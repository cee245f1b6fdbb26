package cluster

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// TestCutOffNodeStopsSideEffects: a node that loses NATS stops pulling and
// recording its cameras before its leases may be taken over, so a camera
// is never pulled twice; the others take its shards; it writes nothing
// meanwhile; once healed it rejoins.
func TestCutOffNodeStopsSideEffects(t *testing.T) {
	servers := testenv.NewNATSCluster(t, 3)
	proxy := testenv.NewProxy(t, servers[2].Addr().String())
	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{NATS: []string{servers[0].ClientURL(), servers[1].ClientURL(), "nats://" + proxy.Addr()}})
	defer func() {
		if t.Failed() || os.Getenv("ARGUS_KEEP_LOGS") != "" {
			for _, n := range c.Nodes {
				keepOutput(t, n)
			}
		}
	}()
	victim := c.Nodes[2] // reaches NATS only through the proxy
	other := c.Nodes[0]

	const n = 30
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("p%02d", i)
	}
	shared := startCam(t, paths)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("k%02d", i)
		if st, _, b := other.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"cam","url":%q}`, id, shared.URL(paths[i]))); st != 201 {
			t.Fatalf("create %s: %d %s", id, st, b)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "the victim owns shards", func() bool { return ownedBy(status(t, other))[victim.ID] >= 10 })
	settled(t, other)

	// The victim's devices move to a camera of their own, then record.
	own := startCam(t, paths)
	var mine []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("k%02d", i)
		var lv struct {
			Node string `json:"node"`
		}
		if getJSON(t, other, "/v1/devices/"+id+"/channels/1/live", &lv) == 200 && lv.Node == victim.ID {
			mine = append(mine, id)
			if st, _, b := other.Do("PATCH", "/v1/devices/"+id, "", fmt.Sprintf(`{"url":%q}`, own.URL(paths[i]))); st != 200 {
				t.Fatalf("patch %s: %d %s", id, st, b)
			}
		}
	}
	if len(mine) == 0 {
		t.Fatal("the victim hosts no device")
	}
	for _, id := range mine {
		if st, _, b := other.Do("PUT", "/v1/devices/"+id+"/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 && st != 201 {
			t.Fatalf("plan %s: %d %s", id, st, b)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "the victim pulls its cameras", func() bool { return own.Readers() == len(mine) })

	// Cut: watch the victim's cameras every 5 ms.
	var lo, hi atomic.Int64
	lo.Store(int64(len(mine)))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			r := int64(own.Readers())
			if r < lo.Load() {
				lo.Store(r)
			}
			if r > hi.Load() {
				hi.Store(r)
			}
		}
	}()
	cut := time.Now()
	proxy.Cut()
	for own.Readers() > 0 && time.Since(cut) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if own.Readers() > 0 {
		for _, n := range c.Nodes {
			_, _, b := n.Do("GET", "/v1/streams", "", "")
			t.Logf("%s streams: %s", n.ID, b)
		}
		t.Fatalf("the cut-off node still pulls 5 s after the cut: %d readers", own.Readers())
	}
	stopped := time.Since(cut)
	t.Logf("cut-off node stopped its %d pulls %s after the cut", len(mine), stopped.Round(time.Millisecond))
	testenv.WaitFor(t, 15*time.Second, "the others own every shard", func() bool { return allOwnedBy(t, other, c.Nodes[0].ID, c.Nodes[1].ID) })
	t.Logf("the others own every shard %s after the cut", time.Since(cut).Round(time.Millisecond))
	testenv.WaitFor(t, 20*time.Second, "the others pull the cameras", func() bool { return own.Readers() == len(mine) })
	time.Sleep(time.Second)
	close(done)
	if hi.Load() > int64(len(mine)) {
		t.Errorf("a camera was pulled twice: %d readers for %d cameras", hi.Load(), len(mine))
	}
	if lo.Load() != 0 {
		t.Errorf("the cut-off node was still pulling when the others started (fewest readers %d)", lo.Load())
	}
	for _, id := range mine {
		if st := getJSON(t, other, "/v1/devices/"+id, nil); st != 200 {
			t.Errorf("device %s: %d", id, st)
		}
	}

	// Heal: the victim rejoins and takes its share; still one pull per camera.
	healed := time.Now()
	proxy.Heal()
	testenv.WaitFor(t, 30*time.Second, "the healed node takes its share", func() bool { return ownedBy(status(t, other))[victim.ID] >= 10 })
	testenv.WaitFor(t, 20*time.Second, "one pull per camera after the heal", func() bool { return own.Readers() == len(mine) })
	for _, e := range replay(t, other, "") {
		if e.Node == victim.ID && e.Time.After(cut.Add(leaseTTL)) && e.Time.Before(healed) {
			t.Errorf("event from the cut-off node after its lease expired: %+v", e)
		}
	}
}

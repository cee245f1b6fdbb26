package cluster

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

const (
	devices    = 300
	segmentSec = 10
	leaseTTL   = 3 * time.Second // actors/cluster default
)

// TestFailover: three nodes, 300 cameras recording continuously. The node
// owning most shards is killed -9 under a steady command load: its shards
// move to the survivors, every device answers, recordings resume, live URLs
// name the new owner, every acknowledged command is in the log and the dead
// node wrote nothing after its lease ran out. Then it rejoins and takes its
// share back, and another node leaves gracefully.
func TestFailover(t *testing.T) {
	paths := make([]string, devices)
	for i := range paths {
		paths[i] = fmt.Sprintf("c%03d", i)
	}
	cam := startCam(t, paths)
	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{})
	dump := func() {
		if t.Failed() || os.Getenv("ARGUS_KEEP_LOGS") != "" {
			for _, n := range c.Nodes {
				t.Log(tail(n))
				keepOutput(t, n)
			}
		}
	}
	defer dump()

	// 300 devices with continuous plans, created through every node.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, devices)
	sem := make(chan struct{}, 16)
	for i := 0; i < devices; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			n := c.Nodes[i%3]
			id := fmt.Sprintf("d%03d", i)
			if st, _, b := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"cam","url":%q}`, id, cam.URL(paths[i]))); st != 201 {
				errs <- fmt.Sprintf("create %s: %d %s", id, st, b)
				return
			}
			// 300 creates at once on two cores: the log may answer 503
			// (Retry-After); a client retries it, as the API says
			put := func() (int, []byte) {
				st, _, b := n.Do("PUT", "/v1/devices/"+id+"/channels/1/plan", "", fmt.Sprintf(`{"mode":"continuous","segment_seconds":%d}`, segmentSec))
				return st, b
			}
			st, b := put()
			for try := 0; st == http.StatusServiceUnavailable && try < 3; try++ {
				time.Sleep(time.Second)
				st, b = put()
			}
			if st != 200 && st != 201 {
				errs <- fmt.Sprintf("plan %s: %d %s", id, st, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	t.Logf("300 devices and plans in %s", time.Since(start).Round(time.Millisecond))
	testenv.WaitFor(t, 90*time.Second, "every camera pulled", func() bool { return cam.Readers() >= devices })
	t.Logf("every plan recording after %s", time.Since(start).Round(time.Millisecond))
	// Any node lists the streams of the whole cluster: the sum of every
	// node's own list (shards may still be moving to the joiners: retried).
	type streamList struct {
		Items []struct {
			Device string `json:"device"`
		} `json:"items"`
	}
	testenv.WaitFor(t, 15*time.Second, "GET /v1/streams lists every node's streams", func() bool {
		var all streamList
		if getJSON(t, c.Nodes[0], "/v1/streams", &all) != 200 || len(all.Items) < devices {
			return false
		}
		sum, first := 0, 0
		for i, n := range c.Nodes {
			var own streamList
			if getJSON(t, n, "/v1/streams?scope=node", &own) != 200 {
				return false
			}
			sum += len(own.Items)
			if i == 0 {
				first = len(own.Items)
			}
		}
		return sum == len(all.Items) && first < sum // others' streams included
	})
	time.Sleep(segmentSec*time.Second + 2*time.Second) // a first segment everywhere

	// Steady command load through the live nodes; every 2xx is remembered.
	var (
		dead     atomic.Value // id of the killed node
		acked    sync.Map     // name → device
		ok, fail atomic.Int64
		stop     = make(chan struct{})
		loadWG   sync.WaitGroup
	)
	dead.Store("")
	for w := 0; w < 4; w++ {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				n := c.Nodes[rand.IntN(3)]
				if n.ID == dead.Load().(string) {
					continue
				}
				id := fmt.Sprintf("d%03d", rand.IntN(devices))
				name := fmt.Sprintf("load-%d-%d", w, k)
				st, _, _ := n.Do("PATCH", "/v1/devices/"+id, "", fmt.Sprintf(`{"name":%q}`, name))
				if st == 200 {
					acked.Store(name, id)
					ok.Add(1)
				} else {
					fail.Add(1)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)

	// The victim: the node owning most shards.
	before := status(t, c.Nodes[0])
	counts := ownedBy(before)
	victim := c.Nodes[0]
	for _, n := range c.Nodes {
		if counts[n.ID] > counts[victim.ID] {
			victim = n
		}
	}
	var survivors []*testenv.Node
	var survivorIDs []string
	for _, n := range c.Nodes {
		if n != victim {
			survivors = append(survivors, n)
			survivorIDs = append(survivorIDs, n.ID)
		}
	}
	var victimShards []int
	for _, s := range before.Shards {
		if s.Owner == victim.ID {
			victimShards = append(victimShards, s.ID)
		}
	}
	// A device of the victim, for the live-reader check.
	liveDev := ""
	for i := 0; i < devices && liveDev == ""; i++ {
		id := fmt.Sprintf("d%03d", i)
		var lv struct {
			Node string `json:"node"`
		}
		if getJSON(t, survivors[0], "/v1/devices/"+id+"/channels/1/live", &lv) == 200 && lv.Node == victim.ID {
			liveDev = id
		}
	}
	if liveDev == "" {
		t.Fatalf("no device of %s found", victim.ID)
	}

	t.Logf("killing %s (owns %d shards)", victim.ID, counts[victim.ID])
	dead.Store(victim.ID)
	killed := time.Now()
	victim.Kill()
	owned := testenv.WaitFor(t, 15*time.Second, "every shard owned by a survivor", func() bool { return allOwnedBy(t, survivors[0], survivorIDs...) })
	t.Logf("every shard owned by a survivor %s after the kill (goal ≤ 3 s; measured in make bench)", owned.Round(time.Millisecond))

	// Every device answers, through either survivor.
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d%03d", i)
		n := survivors[i%2]
		testenv.WaitFor(t, 10*time.Second, "device "+id+" answers", func() bool { return getJSON(t, n, "/v1/devices/"+id, nil) == 200 })
	}
	t.Logf("every device answers %s after the kill", time.Since(killed).Round(time.Millisecond))

	// A live reader reconnects through a fresh URL, which names the new owner.
	var lv struct {
		RTSP string `json:"rtsp_url"`
		Node string `json:"node"`
	}
	if st := getJSON(t, survivors[1], "/v1/devices/"+liveDev+"/channels/1/live", &lv); st != 200 || lv.Node == victim.ID || !slices.Contains(survivorIDs, lv.Node) {
		t.Fatalf("live URL after failover: %d %+v", st, lv)
	}
	if codec, err := ffprobe(t, lv.RTSP); err != nil || codec != "h264" {
		t.Fatalf("ffprobe %s: %q %v", lv.RTSP, codec, err)
	}

	// Recordings resume: wait for a segment to close after the failover.
	time.Sleep(time.Until(killed.Add(segmentSec*time.Second + 12*time.Second)))
	close(stop)
	loadWG.Wait()
	t.Logf("command load: %d acknowledged, %d refused or failed (only while shards moved)", ok.Load(), fail.Load())

	resumed := time.Now()
	resumedIn := 0
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d%03d", i)
		for _, r := range indexed(t, survivors[0], id, start) {
			if r.start >= killed.UnixMilli() {
				resumedIn++
				break
			}
		}
	}
	if resumedIn != devices {
		t.Errorf("%d of %d plans indexed a segment started after the kill", resumedIn, devices)
	}

	// Every acknowledged command is in the log.
	if missing := missingAcked(replay(t, survivors[0], "type=device.updated"), &acked); missing > 0 {
		t.Errorf("%d acknowledged commands are not in the log", missing)
	}

	// Nothing from the dead node once its lease could have expired.
	for _, e := range replay(t, survivors[0], "") {
		if e.Node == victim.ID && e.Time.After(killed.Add(leaseTTL)) {
			t.Errorf("event after the victim's lease expired: %+v", e)
		}
	}

	// Rejoin: the victim comes back and takes its share in steps.
	victim.Start()
	took := testenv.WaitFor(t, 30*time.Second, "rejoined node takes its share", func() bool {
		o := ownedBy(status(t, victim))
		return o[victim.ID] >= 10 && o[""] == 0
	})
	t.Logf("rejoined node owns %d shards after %s", ownedBy(status(t, victim))[victim.ID], took.Round(time.Millisecond))
	_ = victimShards

	// Graceful leave: SIGTERM hands the shards over without waiting for leases.
	leaver, stay := survivors[0], survivors[1]
	left := time.Now()
	leaver.Stop()
	took = testenv.WaitFor(t, 10*time.Second, "leaver's shards taken over", func() bool { return allOwnedBy(t, stay, stay.ID, victim.ID) })
	t.Logf("graceful leave: shards handed over %s after SIGTERM returned (%s after it was sent)", took.Round(time.Millisecond), time.Since(left).Round(time.Millisecond))
	for i := 0; i < devices; i += 7 {
		id := fmt.Sprintf("d%03d", i)
		testenv.WaitFor(t, 10*time.Second, "device "+id+" answers after the leave", func() bool { return getJSON(t, stay, "/v1/devices/"+id, nil) == 200 })
	}
	if !strings.Contains(leaver.Output(), "shutting down") {
		t.Errorf("leaver did not shut down cleanly")
	}

	// Every segment file on any node's disk is in the index, and every
	// index entry has its file: after a kill -9 (the victim recovered its
	// partials when it rejoined), handovers to the joiner and a graceful
	// leave. Recording is switched off first, so no segment is being written.
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d%03d", i)
		if st, _, b := stay.Do("PUT", "/v1/devices/"+id+"/channels/1/plan", "", `{"mode":"off"}`); st != 200 {
			t.Fatalf("plan off %s: %d %s", id, st, b)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "every recording stopped", func() bool {
		for i := 0; i < devices; i++ {
			var p struct {
				Recording bool `json:"recording"`
			}
			if getJSON(t, stay, fmt.Sprintf("/v1/devices/d%03d/channels/1/plan", i), &p) != 200 || p.Recording {
				return false
			}
		}
		return true
	})
	files := map[string]bool{}
	for _, n := range c.Nodes {
		for _, f := range segmentFiles(t, n.Data) {
			files[f] = true
		}
	}
	index := map[string]bool{}
	byPlan := map[string][][2]int64{}
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d%03d", i)
		for _, r := range indexed(t, stay, id, start) {
			index[fmt.Sprintf("%s~1@%d", id, r.start)] = true
			if r.start < resumed.UnixMilli() {
				byPlan[id] = append(byPlan[id], [2]int64{r.start, r.end})
			}
		}
	}
	// Recording across the kill, from the index once every file is in it
	// (a segment the victim published but had not indexed when it was
	// killed is indexed when it comes back: its file is on its disk).
	worst, worstPlan := int64(0), ""
	for plan, ss := range byPlan {
		slices.SortFunc(ss, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		for i := 1; i < len(ss); i++ {
			if gap := ss[i][0] - ss[i-1][1]; gap > worst {
				worst, worstPlan = gap, fmt.Sprintf("%s: %s → %s", plan, time.UnixMilli(ss[i-1][1]).Format("15:04:05.000"), time.UnixMilli(ss[i][0]).Format("15:04:05.000"))
			}
		}
	}
	t.Logf("largest recording gap of any plan up to %s: %d ms (%s; killed at %s; limit segment + 5 s)", resumed.Format("15:04:05.000"), worst, worstPlan, killed.Format("15:04:05.000"))
	if worst > (segmentSec+5)*1000 {
		t.Errorf("recording gap %d ms > segment + 5 s", worst)
	}
	var noIndex, noFile int
	for ms := range files {
		if !index[ms] {
			noIndex++
		}
	}
	for ms := range index {
		if !files[ms] {
			noFile++
		}
	}
	t.Logf("segment files %d, index entries %d", len(files), len(index))
	if noIndex > 0 || noFile > 0 {
		t.Errorf("%d segment files are not indexed, %d index entries have no file", noIndex, noFile)
	}
}

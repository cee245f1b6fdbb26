package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// cameraSessions counts the established TCP connections to a local port
// (/proc/net/tcp{,6}, server side): the pulls a camera serves.
func cameraSessions(port int) int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) < 4 || fs[3] != "01" { // ESTABLISHED
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				n++
			}
		}
	}
	return n
}

// BenchmarkEdge measures issue 18's cascade: three nodes and one 2 Mbps
// camera, 200 RTSP readers on each node (the two that do not own the
// stream serve it as edges, pulling it from the owner): the pulls at the
// camera, and each node's CPU per reader next to one node serving 200
// readers alone (the owner, before the others get viewers).
func BenchmarkEdge(b *testing.B) {
	_, camURL := startBenchCam(b)
	camPort, _ := strconv.Atoi(camURL[strings.LastIndexByte(camURL, ':')+1 : strings.LastIndexByte(camURL, '/')])
	c := testenv.StartCluster(b, 3, testenv.ClusterOptions{Args: []string{"--probe-interval", "0", "--log-level", "warn"}})
	if st, _, body := c.Nodes[0].Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"edge-cam","name":"b","url":%q}`, camURL)); st != 201 {
		b.Fatalf("create: %d %s", st, body)
	}
	liveOn := func(node string) (url, servedBy string) {
		_, _, body := c.Nodes[0].Do("GET", "/v1/devices/edge-cam/channels/1/live?ttl=3600&node="+node, "", "")
		var v struct {
			RTSP string `json:"rtsp_url"`
			Node string `json:"node"`
		}
		if err := jsonUnmarshal(body, &v); err != nil || v.RTSP == "" {
			b.Fatalf("live URLs: %v %s", err, body)
		}
		return v.RTSP, v.Node
	}
	_, owner := liveOn("")
	ownerNode := c.Node(owner)

	const perNode, dur = 200, 15 * time.Second
	// One node with 200 readers: the baseline.
	oneCPU, oneLoss, on := fanOut(b, mustURL(liveOn(owner)), ownerNode.Pid(), perNode, dur)

	// 200 readers on each node at once.
	type nodeRun struct {
		id      string
		pid     int
		readers []*reader
	}
	runs := make([]*nodeRun, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		url, _ := liveOn(n.ID)
		runs[i] = &nodeRun{id: n.ID, pid: n.Pid()}
		wg.Go(func() { runs[i].readers = attachReaders(b, url, perNode) })
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // settle
	pulls := cameraSessions(camPort)
	cpu0 := make([]float64, len(runs))
	for i, r := range runs {
		for _, rd := range r.readers {
			rd.packets.Store(0)
			rd.lost.Store(0)
		}
		cpu0[i] = cpuSeconds(r.pid)
	}
	time.Sleep(dur)
	var per []string
	total, worst := 0, 0.0
	for i, r := range runs {
		cpu := (cpuSeconds(r.pid) - cpu0[i]) / (float64(len(r.readers)) * dur.Minutes())
		loss := closeReaders(r.readers)
		role := "edge"
		if r.id == owner {
			role = "owner"
		}
		per = append(per, fmt.Sprintf("%s %.4f (%.3f%% lost)", role, cpu, loss*100))
		total += len(r.readers)
		worst = max(worst, cpu)
	}
	results.add(fmt.Sprintf("(w4) 3 nodes × %d RTSP readers of one camera: pulls at the camera", perNode),
		fmt.Sprintf("%d (%d readers)", pulls, total), "—", "—", "1")
	results.add(fmt.Sprintf("(w5) 3 nodes × %d RTSP readers: CPU s per reader-minute on each node", perNode),
		strings.Join(per, ", "), fmt.Sprintf("%.4f (%.3f%% lost, %d readers) one node alone", oneCPU, oneLoss*100, on),
		fmt.Sprintf("%.2f (worst node)", worst/oneCPU), "—")
}

// mustURL drops liveOn's second result.
func mustURL(url, _ string) string { return url }

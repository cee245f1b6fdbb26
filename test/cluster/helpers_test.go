// Package cluster holds the chaos tests of an Argus cluster: separate
// `argus serve` processes with embedded NATS, real cameras (fakecam), nodes
// killed and cut off under load.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

const shardCount = 64 // the default of a new cluster

type clusterJSON struct {
	Nodes []struct {
		ID     string `json:"id"`
		RTSP   string `json:"rtsp"`
		Shards int    `json:"shards"`
		Actors int    `json:"actors"`
	} `json:"nodes"`
	Shards []struct {
		ID    int    `json:"id"`
		Owner string `json:"owner"`
	} `json:"shards"`
}

func getJSON(t *testing.T, n *testenv.Node, path string, v any) int {
	t.Helper()
	st, _, body := n.Do("GET", path, "", "")
	if st == 200 && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return st
}

// status is the cluster as node n sees it.
func status(t *testing.T, n *testenv.Node) clusterJSON {
	t.Helper()
	var c clusterJSON
	getJSON(t, n, "/v1/cluster", &c)
	return c
}

// ownedBy counts the shards each node owns ("" = unowned).
func ownedBy(c clusterJSON) map[string]int {
	out := map[string]int{}
	for _, s := range c.Shards {
		out[s.Owner]++
	}
	return out
}

// allOwnedBy reports whether every shard is owned by one of ids, as n sees it.
func allOwnedBy(t *testing.T, n *testenv.Node, ids ...string) bool {
	c := status(t, n)
	if len(c.Shards) != shardCount {
		return false
	}
	for _, s := range c.Shards {
		ok := false
		for _, id := range ids {
			ok = ok || s.Owner == id
		}
		if !ok {
			return false
		}
	}
	return true
}

func startCam(t *testing.T, paths []string) *fakecam.Camera {
	t.Helper()
	// Small video: hundreds of pulls and recorders share two cores here.
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: paths,
		Width: 160, Height: 96, FPS: 10, Bitrate: 100_000, GOP: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

type eventJSON struct {
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time"`
	Type      string          `json:"type"`
	Kind      string          `json:"kind"`
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Node      string          `json:"node"`
	Data      json.RawMessage `json:"data"`
}

// replay pages through /v1/events?q on node n.
func replay(t *testing.T, n *testenv.Node, q string) []eventJSON {
	t.Helper()
	var all []eventJSON
	var after uint64
	for {
		path := "/v1/events?limit=1000&after_seq=" + strconv.FormatUint(after, 10)
		if q != "" {
			path += "&" + q
		}
		var page struct {
			Items []eventJSON `json:"items"`
			Next  uint64      `json:"next_after_seq"`
		}
		if st := getJSON(t, n, path, &page); st != 200 {
			t.Fatalf("GET %s: %d", path, st)
		}
		if len(page.Items) == 0 {
			return all
		}
		all = append(all, page.Items...)
		after = page.Next
	}
}

// int64s reads protojson int64 fields (strings) of an event's data.
func int64s(t *testing.T, data json.RawMessage, names ...string) []int64 {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(names))
	for i, n := range names {
		switch v := m[n].(type) {
		case string:
			out[i], _ = strconv.ParseInt(v, 10, 64)
		case float64:
			out[i] = int64(v)
		}
	}
	return out
}

// ffprobe returns the codec of the first video stream at url.
func ffprobe(t *testing.T, url string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "csv=p=0", url).CombinedOutput()
	return strings.TrimSpace(string(bytes.TrimSpace(out))), err
}

// tail is the end of a node's output without access-log and recorder
// chatter, for failure messages.
func tail(n *testenv.Node) string {
	var keep []string
	for _, l := range strings.Split(n.Output(), "\n") {
		if strings.Contains(l, "msg=http ") || strings.Contains(l, `msg="segment closed"`) || strings.Contains(l, "Error trying to connect to route") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > 60 {
		keep = keep[len(keep)-60:]
	}
	return fmt.Sprintf("--- %s output (end, filtered) ---\n%s", n.ID, strings.Join(keep, "\n"))
}

// keepOutput writes a node's whole output next to the test's temp files and
// names the file, for a failure's post-mortem.
func keepOutput(t *testing.T, n *testenv.Node) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("argus-%s-%s.log", strings.ReplaceAll(t.Name(), "/", "_"), n.ID))
	if err := os.WriteFile(path, []byte(n.Output()), 0o644); err == nil {
		t.Logf("%s output: %s", n.ID, path)
	}
}

// settled waits until no shard has changed owner for two seconds (joins
// move shards a few at a time).
func settled(t *testing.T, n *testenv.Node) {
	t.Helper()
	last, since := "", time.Now()
	testenv.WaitFor(t, 30*time.Second, "shard owners settle", func() bool {
		c := status(t, n)
		var b strings.Builder
		for _, s := range c.Shards {
			b.WriteString(s.Owner + ",")
		}
		if cur := b.String(); cur != last || strings.Contains(cur, ",,") || strings.HasPrefix(cur, ",") {
			last, since = cur, time.Now()
			return false
		}
		return time.Since(since) > 2*time.Second
	})
}

// indexedSegment is one entry of a channel's segment index.
type indexedSegment struct{ start, end int64 }

// indexed lists device's channel-1 segments since from (the index: any node).
func indexed(t *testing.T, n *testenv.Node, device string, from time.Time) []indexedSegment {
	t.Helper()
	var r struct {
		Items []struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"items"`
	}
	q := "/v1/recordings?device=" + device + "&channel=1&from=" + from.Add(-time.Minute).UTC().Format(time.RFC3339) +
		"&to=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	st, _, body := n.Do("GET", q, "", "")
	if st != 200 {
		t.Fatalf("recordings of %s: %d %s", device, st, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("recordings of %s: %v", device, err)
	}
	out := make([]indexedSegment, 0, len(r.Items))
	for _, it := range r.Items {
		s, err1 := time.Parse(time.RFC3339Nano, it.Start)
		e, err2 := time.Parse(time.RFC3339Nano, it.End)
		if err1 != nil || err2 != nil {
			t.Fatalf("recording times %q %q", it.Start, it.End)
		}
		out = append(out, indexedSegment{s.UnixMilli(), e.UnixMilli()})
	}
	return out
}

// segmentFiles are "<plan>@<start unix ms>" of the published segment
// files under a node's data directory
// (recordings/<plan>/YYYY/MM/DD/HHMMSS.mmm-<rand>.mp4).
func segmentFiles(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(data, "recordings")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".mp4") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 5 {
			t.Errorf("unexpected segment path %s", rel)
			return nil
		}
		stamp, _, _ := strings.Cut(parts[4], "-")
		ts, err := time.Parse("2006/01/02/150405.000", strings.Join(append(parts[1:4], stamp), "/"))
		if err != nil {
			t.Errorf("segment name %s: %v", rel, err)
			return nil
		}
		out = append(out, fmt.Sprintf("%s@%d", parts[0], ts.UnixMilli()))
		return nil
	})
	return out
}

// missingAcked counts the acknowledged device names (keys of acked) that no
// device.updated event of evs carries.
func missingAcked(evs []eventJSON, acked *sync.Map) int {
	names := map[string]bool{}
	for _, e := range evs {
		if e.Type != "device.updated" {
			continue
		}
		var d struct {
			Name string `json:"name"`
		}
		json.Unmarshal(e.Data, &d)
		names[d.Name] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !names[k.(string)] {
			missing++
		}
		return true
	})
	return missing
}

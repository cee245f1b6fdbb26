package cluster

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/test/testenv"
)

// packetReader is an RTSP reader that notes when its last video packet
// came.
type packetReader struct {
	c       *gortsplib.Client
	packets atomic.Int64
	last    atomic.Int64 // unix nanos
}

func readPackets(t *testing.T, rawURL string) *packetReader {
	t.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.ProtocolTCP
	r := &packetReader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}}
	if err := r.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.c.Close)
	desc, _, err := r.c.Describe(u)
	if err != nil {
		t.Fatalf("describe %s: %v", rawURL, err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatal("no H.264")
	}
	if _, err := r.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Fatal(err)
	}
	r.c.OnPacketRTP(medi, forma, func(*rtp.Packet) {
		r.packets.Add(1)
		r.last.Store(time.Now().UnixNano())
	})
	if _, err := r.c.Play(nil); err != nil {
		t.Fatal(err)
	}
	return r
}

type liveJSON struct {
	RTSP string `json:"rtsp_url"`
	HLS  string `json:"hls_url"`
	Node string `json:"node"`
	Edge bool   `json:"edge"`
}

func liveOn(t *testing.T, n *testenv.Node, device, node string) liveJSON {
	t.Helper()
	st, _, b := n.Do("GET", "/v1/devices/"+device+"/channels/1/live?ttl=600&node="+node, "", "")
	if st != 200 {
		t.Fatalf("live URLs on %q: %d %s", node, st, b)
	}
	var l liveJSON
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestEdgeRelays: viewers of one camera on all three nodes (?node=): the
// nodes that do not own it serve it as edges, pulling it from the owner,
// so the camera sees one pull; HLS works through an edge; when the owner
// is killed the shard moves and the edges' readers on the other nodes go
// on receiving without reconnecting, still with one pull at the camera.
func TestEdgeRelays(t *testing.T) {
	cam := startCam(t, []string{"edge"})
	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{})
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Log(tail(n))
			}
		}
	}()
	settled(t, c.Nodes[0]) // no handover moves the camera while the test reads it
	if st, _, b := c.Nodes[0].Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"e-1","name":"cam","url":%q}`, cam.URL("edge"))); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	owner := liveOn(t, c.Nodes[0], "e-1", "").Node
	var edges []*testenv.Node
	for _, n := range c.Nodes {
		if n.ID != owner {
			edges = append(edges, n)
		}
	}
	if len(edges) != 2 {
		t.Fatalf("owner %q among %d nodes", owner, len(c.Nodes))
	}

	readers := map[string]*packetReader{}
	for _, n := range c.Nodes {
		l := liveOn(t, c.Nodes[0], "e-1", n.ID) // asked of any node, for a viewer on n
		if l.Node != n.ID || l.Edge != (n.ID != owner) {
			t.Fatalf("?node=%s: %+v", n.ID, l)
		}
		readers[n.ID] = readPackets(t, l.RTSP)
	}
	testenv.WaitFor(t, 15*time.Second, "every reader receiving", func() bool {
		for _, r := range readers {
			if r.packets.Load() < 20 {
				return false
			}
		}
		return true
	})
	if n := cam.Readers(); n != 1 {
		t.Fatalf("the camera has %d readers with viewers on three nodes, want 1", n)
	}
	var streams struct {
		Items []struct {
			Device, Kind, Node string
			Readers            int
		} `json:"items"`
	}
	if st := getJSON(t, c.Nodes[0], "/v1/streams", &streams); st != 200 {
		t.Fatalf("streams: %d", st)
	}
	kinds := map[string]string{}
	for _, s := range streams.Items {
		if s.Device == "e-1" {
			kinds[s.Node] = s.Kind
		}
	}
	if kinds[owner] != "camera" || kinds[edges[0].ID] != "edge" || kinds[edges[1].ID] != "edge" {
		t.Errorf("/v1/streams of e-1 by node: %v, want the owner's camera pull and two edges", kinds)
	}
	edgeHLS := liveOn(t, c.Nodes[0], "e-1", edges[0].ID).HLS
	if out, err := ffprobe(t, edgeHLS); err != nil {
		t.Fatalf("HLS through the edge %s: %v %s", edges[0].ID, err, out)
	}

	// The owner dies: its shards move; the edges follow the stream.
	killed := time.Now()
	c.Node(owner).Kill()
	testenv.WaitFor(t, 20*time.Second, "the edges' readers receiving again after the owner was killed", func() bool {
		for _, e := range edges {
			if time.Unix(0, readers[e.ID].last.Load()).Before(killed.Add(time.Second)) {
				return false
			}
		}
		return true
	})
	resumed := time.Since(killed)
	testenv.WaitFor(t, 10*time.Second, "one pull at the camera", func() bool { return cam.Readers() == 1 })
	t.Logf("edge readers receiving again %v after the owner's kill, without reconnecting; %d pull at the camera", resumed.Round(time.Millisecond), cam.Readers())
}

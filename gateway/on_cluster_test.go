package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/argus-vms/argus/actors/cluster"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/projections"
)

// fixedCluster is a view of the cluster: nodes and the owner of shard 0.
type fixedCluster struct {
	nodes  []cluster.NodeStatus
	shard0 string
}

func (f *fixedCluster) Status() ([]cluster.NodeStatus, []cluster.ShardStatus) {
	return f.nodes, []cluster.ShardStatus{{ID: 0, Owner: f.shard0}}
}

type fakeProjections struct{ rebuilds atomic.Int32 }

func (f *fakeProjections) Status(context.Context) ([]projections.ProjectorStatus, error) {
	return []projections.ProjectorStatus{{Name: "events", Tables: []string{"argus.events"}}}, nil
}
func (f *fakeProjections) Rebuild(context.Context, string) error { f.rebuilds.Add(1); return nil }

// clusterPair is two gateways, n1 and n2, on real listeners; each sees the
// cluster as its view says and serves one stream of its own.
type clusterPair struct {
	srv   map[string]*httptest.Server
	views map[string]*fixedCluster
	proj  *fakeProjections // n2's: it owns shard 0
}

func newClusterPair(t *testing.T) *clusterPair {
	t.Helper()
	p := &clusterPair{srv: map[string]*httptest.Server{}, views: map[string]*fixedCluster{}, proj: &fakeProjections{}}
	for _, id := range []string{"n1", "n2"} {
		view := &fixedCluster{shard0: "n2"}
		live := &Live{Signer: token.NewSigner([]byte("cluster-secret-for-tests")), Advertise: "127.0.0.1",
			Streams: func(context.Context) ([]StreamInfo, error) {
				return []StreamInfo{{Device: "cam-" + id, Channel: 1, Node: id, State: "live"}}, nil
			}}
		cfg := Config{Devices: twoChannelDevices{}, AdminKey: testAdminKey, Node: id, Live: live, Cluster: view,
			Log: slog.New(slog.DiscardHandler)}
		if id == "n2" {
			cfg.Projections = p.proj
		}
		srv := httptest.NewServer(New(cfg).Handler())
		t.Cleanup(srv.Close)
		p.srv[id], p.views[id] = srv, view
	}
	for _, v := range p.views {
		v.nodes = []cluster.NodeStatus{{ID: "n1", HTTP: p.srv["n1"].URL}, {ID: "n2", HTTP: p.srv["n2"].URL}}
	}
	return p
}

func streamNodes(t *testing.T, r resp) (nodes []string, incomplete []string) {
	t.Helper()
	var body struct {
		Items      []StreamInfo `json:"items"`
		Incomplete []string     `json:"incomplete"`
	}
	if r.code != 200 || json.Unmarshal(r.body, &body) != nil {
		t.Fatalf("streams: %d %s", r.code, r.body)
	}
	for _, it := range body.Items {
		nodes = append(nodes, it.Node)
	}
	return nodes, body.Incomplete
}

func TestStreamsListEveryNode(t *testing.T) {
	p := newClusterPair(t)
	h := p.srv["n1"].Config.Handler
	if nodes, _ := streamNodes(t, do(t, h, "GET", "/v1/streams", testAdminKey, "")); !slices.Equal(nodes, []string{"n1", "n2"}) {
		t.Fatalf("cluster-wide streams from nodes %v, want n1 and n2", nodes)
	}
	if nodes, _ := streamNodes(t, do(t, h, "GET", "/v1/streams?scope=node", testAdminKey, "")); !slices.Equal(nodes, []string{"n1"}) {
		t.Fatalf("scope=node streams from nodes %v, want n1 only", nodes)
	}
	if r := do(t, h, "GET", "/v1/streams?scope=galaxy", testAdminKey, ""); r.code != 400 || r.problem(t)["field"] != "scope" {
		t.Fatalf("bad scope: %d %s", r.code, r.body)
	}
	// Without a key nothing is listed, on any node.
	if r := do(t, h, "GET", "/v1/streams", "", ""); r.code != 401 {
		t.Fatalf("no key: %d", r.code)
	}

	p.srv["n2"].Close()
	nodes, incomplete := streamNodes(t, do(t, h, "GET", "/v1/streams", testAdminKey, ""))
	if !slices.Equal(nodes, []string{"n1"}) || !slices.Equal(incomplete, []string{"n2"}) {
		t.Fatalf("with n2 down: nodes %v, incomplete %v", nodes, incomplete)
	}
}

func TestProjectionsAnsweredByTheOwnerOfShardZero(t *testing.T) {
	p := newClusterPair(t)
	h := p.srv["n1"].Config.Handler
	r := do(t, h, "GET", "/v1/projections", testAdminKey, "")
	if r.code != 200 {
		t.Fatalf("status through n1: %d %s", r.code, r.body)
	}
	if r := do(t, h, "POST", "/v1/projections/all/rebuild", testAdminKey, ""); r.code != 202 || p.proj.rebuilds.Load() != 1 {
		t.Fatalf("rebuild through n1: %d %s, rebuilds on n2 %d", r.code, r.body, p.proj.rebuilds.Load())
	}
	if r := do(t, h, "POST", "/v1/projections/all/rebuild", "", ""); r.code != 401 || p.proj.rebuilds.Load() != 1 {
		t.Fatalf("rebuild without a key: %d, rebuilds %d", r.code, p.proj.rebuilds.Load())
	}

	// Views that disagree (each thinks the other runs projections): a
	// forwarded request is answered where it lands, not passed back.
	// n1 runs none, so it says so.
	p.views["n2"].shard0 = "n1"
	p.views["n1"].shard0 = "n2"
	r = do(t, p.srv["n2"].Config.Handler, "GET", "/v1/projections", testAdminKey, "")
	if d, _ := r.problem(t)["detail"].(string); r.code != 503 || !strings.Contains(d, "ClickHouse") {
		t.Fatalf("n2 → n1 → answered on n1: %d %s", r.code, r.body)
	}
	p.views["n2"].shard0 = "n2"
	p.views["n1"].shard0 = "n2"

	p.srv["n2"].Close()
	if r := do(t, h, "GET", "/v1/projections", testAdminKey, ""); r.code != 503 {
		t.Fatalf("owner down: %d %s", r.code, r.body)
	}
}

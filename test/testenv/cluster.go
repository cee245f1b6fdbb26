package testenv

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// ClusterOptions for StartCluster.
type ClusterOptions struct {
	ClickHouse string   // ARGUS_CLICKHOUSE of every node; "" = none
	Env        []string // extra environment of every node
	Args       []string // extra flags of every node
	// NATS, when set, runs node i against the external NATS URL NATS[i]
	// instead of an embedded server.
	NATS []string
}

// Cluster is n `argus serve --embedded-nats` processes whose NATS servers
// form one NATS cluster (JetStream R3 with three nodes).
type Cluster struct {
	Nodes []*Node
}

// StartCluster starts n nodes (ids n1…nN) on free loopback ports, all at
// once (a clustered node is ready only once a majority is up), and waits for
// every /readyz.
func StartCluster(t testing.TB, n int, o ClusterOptions) *Cluster {
	t.Helper()
	if o.ClickHouse == "" {
		o.ClickHouse = "none"
	}
	type ports struct{ http, rtsp, peer, nats, route int }
	ps := make([]ports, n)
	var routes []string
	for i := range ps {
		ps[i] = ports{FreePort(t), FreePort(t), FreePort(t), FreePort(t), FreePort(t)}
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ps[i].route))
	}
	c := &Cluster{}
	for i, p := range ps {
		node := &Node{t: t, Data: t.TempDir(), AdminKey: "test-admin-key-0123456789", out: &SyncBuffer{}}
		node.ID = fmt.Sprintf("n%d", i+1)
		node.HTTP = fmt.Sprintf("http://127.0.0.1:%d", p.http)
		node.RTSP = fmt.Sprintf("127.0.0.1:%d", p.rtsp)
		node.NATS = fmt.Sprintf("nats://127.0.0.1:%d", p.nats)
		node.Route = fmt.Sprintf("nats://127.0.0.1:%d", p.route)
		node.Peer = fmt.Sprintf("127.0.0.1:%d", p.peer)
		node.args = []string{"serve", "--node-id", node.ID, "--advertise", "127.0.0.1", "--data", node.Data,
			"--http", fmt.Sprintf("127.0.0.1:%d", p.http), "--rtsp", node.RTSP, "--rtsp-udp", "",
			"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0",
			"--peer-port", fmt.Sprint(p.peer), "--probe-interval", "0"}
		if i < len(o.NATS) {
			node.NATS = o.NATS[i]
			node.args = append(node.args, "--nats", o.NATS[i])
		} else {
			node.args = append(node.args, "--embedded-nats",
				"--nats-listen", fmt.Sprintf("127.0.0.1:%d", p.nats), "--nats-cluster-listen", fmt.Sprintf("127.0.0.1:%d", p.route),
				"--nats-routes", strings.Join(routes, ","))
		}
		node.args = append(node.args, o.Args...)
		node.Env = append(os.Environ(), "ARGUS_ADMIN_KEY="+node.AdminKey, "ARGUS_SECRET="+Secret, "ARGUS_CLICKHOUSE="+o.ClickHouse)
		node.Env = append(node.Env, o.Env...)
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		node.spawn()
	}
	var wg sync.WaitGroup
	for _, node := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); node.waitReady() }()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return c
}

// Node returns the node with id.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Start starts a stopped or killed node again on its data and ports (a
// rejoin); it waits for /readyz.
func (n *Node) Start() { n.start() }

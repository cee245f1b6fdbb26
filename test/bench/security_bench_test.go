package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/test/testenv"
)

// BenchmarkSecurity: what TLS costs (issue 13). Routed commands (PATCH on
// node n1 of devices whose shard another node owns: the command crosses
// the peer transport, and the event is replicated R3 over the NATS
// routes) on a three-node cluster with no TLS at all, then with mutual
// TLS on the peer transport and TLS on the NATS routes, in one run.
func BenchmarkSecurity(b *testing.B) {
	const (
		devices = 120
		conc    = 16
		dur     = 10 * time.Second
	)
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("sec-%03d", i)
	}
	plain := routedLoad(b, ids, conc, dur, "--peer-tls=false")
	certs := testenv.NewCerts(b)
	secured := routedLoad(b, ids, conc, dur, "--nats-tls-ca", certs.CA, "--nats-tls-cert", certs.Cert, "--nats-tls-key", certs.Key)
	results.add(fmt.Sprintf("routed PATCH throughput, 3 nodes, %d concurrent, peer mTLS + NATS route TLS", conc),
		fmt.Sprintf("%.0f/s", secured.rate), fmt.Sprintf("%.0f/s without TLS", plain.rate), fmt.Sprintf("%.2f", secured.rate/plain.rate), "≥ 0.8")
	results.add("routed PATCH p99 latency, same runs", ms(secured.p99), ms(plain.p99)+" without TLS",
		fmt.Sprintf("%.2f", plain.p99.Seconds()/secured.p99.Seconds()), "≥ 0.8 (baseline / TLS)")
}

// routedLoad starts a cluster with args, registers ids and PATCHes, for
// dur, the devices n1 does not own, through n1.
func routedLoad(b *testing.B, ids []string, conc int, dur time.Duration, args ...string) patchStats {
	c := testenv.StartCluster(b, 3, testenv.ClusterOptions{Args: args})
	defer func() {
		for _, n := range c.Nodes {
			n.Kill()
		}
	}()
	cl := newBenchClient(c.Nodes[0].AdminKey, 30*time.Second)
	defer cl.c.CloseIdleConnections()
	deadline := time.Now().Add(60 * time.Second)
	var v clusterView
	for {
		var err error
		if v, err = cl.cluster(c.Nodes[0]); err == nil && v.balanced(3, 15) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("cluster not balanced: %v %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	registerDevices(b, cl, c.Nodes, ids)
	owner := map[int]string{}
	for _, s := range v.Shards {
		owner[s.ID] = s.Owner
	}
	var remote []string
	for _, id := range ids {
		if o := owner[events.ShardOf(id, clusterShardCount)]; o != "" && o != c.Nodes[0].ID {
			remote = append(remote, id)
		}
	}
	patchLoad(cl, []string{c.Nodes[0].HTTP}, remote, conc, 2*time.Second) // warm up
	r := patchLoad(cl, []string{c.Nodes[0].HTTP}, remote, conc, dur)
	b.Logf("%v: %d routed devices, %.0f PATCH/s, p99 %s, failed %v", args, len(remote), r.rate, ms(r.p99), r.badBy)
	return r
}

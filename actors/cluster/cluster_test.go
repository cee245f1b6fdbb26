package cluster

import (
	"context"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const testShards = 16

// board records which node runs which shard, and fails the test the moment
// two nodes run the same shard.
type board struct {
	t       *testing.T
	mu      sync.Mutex
	running map[int]string
	dead    map[string]bool // crashed nodes: their shards count as stopped
}

func newBoard(t *testing.T) *board {
	return &board{t: t, running: map[int]string{}, dead: map[string]bool{}}
}

type fakeShards struct {
	b    *board
	node string
}

func (f *fakeShards) Acquire(_ context.Context, shards []int, _ map[int]string) ([]int, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	for _, n := range shards {
		if o, ok := f.b.running[n]; ok && o != f.node && !f.b.dead[o] {
			f.b.t.Errorf("shard %d activated on %s while %s runs it", n, f.node, o)
		}
		f.b.running[n] = f.node
	}
	return nil, nil
}

func (f *fakeShards) Release(n int, _ string) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	if f.b.running[n] == f.node {
		delete(f.b.running, n)
	}
}

func (f *fakeShards) Actors() int { return 0 }

// owners returns the running node of every shard ("" when none).
func (b *board) owners() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, testShards)
	for n, o := range b.running {
		if !b.dead[o] {
			out[n] = o
		}
	}
	return out
}

func startManager(t *testing.T, url, id string, b *board) (*Manager, *nats.Conn) {
	t.Helper()
	return startManagerAt(t, url, id, id+":1", b) // a peer address that never answers
}

// listenPeer is a peer port: the listener a node keeps open while alive.
func listenPeer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func startManagerAt(t *testing.T, url, id, peer string, b *board) (*Manager, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(url, nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	m, err := Start(context.Background(), Config{JS: js, Shards: testShards, Self: Member{ID: id, Peer: peer},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, &fakeShards{b: b, node: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(); nc.Close() })
	return m, nc
}

func balanced(b *board, nodes []string) func() bool {
	return func() bool {
		for n, o := range b.owners() {
			if o != Rendezvous(n, nodes) {
				return false
			}
		}
		return true
	}
}

func TestOwnershipMovesWithMembership(t *testing.T) {
	srv := testenv.NewNATS(t)
	b := newBoard(t)
	m1, _ := startManager(t, srv.ClientURL(), "n1", b)
	took := testenv.WaitFor(t, 3*time.Second, "one node owns every shard", balanced(b, []string{"n1"}))
	t.Logf("single node owns all shards after %s", took)
	testenv.WaitFor(t, time.Second, "ready", m1.Ready)

	m2, _ := startManager(t, srv.ClientURL(), "n2", b)
	// n3's peer port stays open after its crash, as a hung process's would:
	// nothing proves it gone, so its leases must run out first.
	m3, _ := startManagerAt(t, srv.ClientURL(), "n3", listenPeer(t).Addr().String(), b)
	took = testenv.WaitFor(t, 10*time.Second, "joiners take their share", balanced(b, []string{"n1", "n2", "n3"}))
	t.Logf("three nodes balanced after %s", took)

	// Every node routes every shard to the same owner.
	testenv.WaitFor(t, 2*time.Second, "routing agrees", func() bool {
		for n, o := range b.owners() {
			for _, m := range []*Manager{m1, m2, m3} {
				owner, self, ok := m.Owner(n)
				if !ok || (self && m.Self().ID != o) || (!self && owner.ID != o) {
					return false
				}
			}
		}
		return true
	})
	nodes, shards := m1.Status()
	if len(nodes) != 3 || len(shards) != testShards {
		t.Fatalf("status: %d nodes, %d shards", len(nodes), len(shards))
	}

	// Graceful leave: its shards move without waiting for a lease to expire.
	start := time.Now()
	m2.Leave(context.Background())
	testenv.WaitFor(t, 2*time.Second, "leave hands over", balanced(b, []string{"n1", "n3"}))
	t.Logf("graceful leave handed over in %s", time.Since(start))

	// Crash: n3 stops renewing; its shards move after the lease TTL.
	b.mu.Lock()
	b.dead["n3"] = true
	b.mu.Unlock()
	m3.Stop()
	start = time.Now()
	took = testenv.WaitFor(t, 8*time.Second, "survivor takes a crashed node's shards", balanced(b, []string{"n1"}))
	t.Logf("failover after crash took %s", took)
	if took < 1200*time.Millisecond {
		t.Errorf("shards moved %s after the crash: before the lease could have expired", took)
	}
}

// A node cut off from NATS stops its shards before another node may take
// them over.
func TestFencingWhenCutOff(t *testing.T) {
	srv := testenv.NewNATS(t)
	b := newBoard(t)
	startManager(t, srv.ClientURL(), "a", b)
	testenv.WaitFor(t, 3*time.Second, "a owns all", balanced(b, []string{"a"}))
	_, ncB := startManager(t, srv.ClientURL(), "b", b)
	testenv.WaitFor(t, 10*time.Second, "balanced", balanced(b, []string{"a", "b"}))

	var bShards []int
	for n, o := range b.owners() {
		if o == "b" {
			bShards = append(bShards, n)
		}
	}
	if len(bShards) == 0 {
		t.Fatal("b owns nothing")
	}
	cut := time.Now()
	ncB.Close() // b can no longer renew: it must stop its shards itself
	stopped := testenv.WaitFor(t, 5*time.Second, "b stops its shards", func() bool {
		owners := b.owners()
		return !slices.Contains(owners, "b")
	})
	t.Logf("cut-off node stopped its shards after %s", stopped)
	testenv.WaitFor(t, 8*time.Second, "a takes b's shards", balanced(b, []string{"a"}))
	t.Logf("a took them over after %s", time.Since(cut))
}

// A node whose peer port refuses connections is gone: its shards move
// without waiting out their leases.
func TestKilledNodeFreesItsShardsAtOnce(t *testing.T) {
	srv := testenv.NewNATS(t)
	b := newBoard(t)
	startManagerAt(t, srv.ClientURL(), "a", listenPeer(t).Addr().String(), b)
	testenv.WaitFor(t, 3*time.Second, "a owns all", balanced(b, []string{"a"}))
	lnB := listenPeer(t)
	mB, _ := startManagerAt(t, srv.ClientURL(), "b", lnB.Addr().String(), b)
	testenv.WaitFor(t, 10*time.Second, "balanced", balanced(b, []string{"a", "b"}))

	// A kill -9: b's process, its listener and its NATS connection are gone at once.
	b.mu.Lock()
	b.dead["b"] = true
	b.mu.Unlock()
	mB.Stop()
	lnB.Close()
	took := testenv.WaitFor(t, 8*time.Second, "a takes b's shards", balanced(b, []string{"a"}))
	t.Logf("failover after a kill took %s", took)
	if ttl := 3 * time.Second; took >= ttl {
		t.Errorf("b's shards moved after %s: the refused probe was not taken as proof (the lease TTL is %s)", took, ttl)
	}
}

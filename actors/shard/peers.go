package shard

import (
	"net"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
)

// peerGate keeps messages away from peers hollywood's remote cannot reach.
// The remote connects to a peer on the first message for it, in its one
// outbound router actor, and retries a refused connect for about 3 s: one
// message for a node that just died stalls every message to every other node
// meanwhile. So once a peer's connection is lost, nothing more is sent there
// until a quick connect of our own succeeds.
type peerGate struct {
	mu       sync.Mutex
	down     map[string]bool // peer addresses whose connection was lost
	checking map[string]bool // a connect test in flight
}

func newPeerGate(engine *actor.Engine) *peerGate {
	g := &peerGate{down: map[string]bool{}, checking: map[string]bool{}}
	pid := engine.SpawnFunc(func(c *actor.Context) {
		if ev, ok := c.Message().(actor.RemoteUnreachableEvent); ok {
			g.lost(ev.ListenAddr)
		}
	}, "peergate")
	engine.Subscribe(pid)
	return g
}

func (g *peerGate) lost(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down[addr] = true
}

// reachable: a message for addr may be handed to the remote. For a peer
// whose connection was lost it tests a connect first (one at a time; others
// asking meanwhile are told no and retry).
func (g *peerGate) reachable(addr string) bool {
	g.mu.Lock()
	if !g.down[addr] {
		g.mu.Unlock()
		return true
	}
	if g.checking[addr] {
		g.mu.Unlock()
		return false
	}
	g.checking[addr] = true
	g.mu.Unlock()

	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.checking, addr)
	if err != nil {
		return false
	}
	delete(g.down, addr)
	return true
}

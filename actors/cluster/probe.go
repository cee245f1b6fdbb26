package cluster

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"
)

// A node whose heartbeat is late is probed: a TCP connect to its peer port.
// A refused connect proves the process is gone (the kernel answers for a
// port nobody listens on, and a node listens there from before it first
// heartbeats until after it has stopped every shard). Its leases are then
// free at once, instead of after a LeaseTTL: a killed or crashed node's
// shards move in about a heartbeat. A node that is merely slow, paused, cut
// off or on a dead host does not refuse (the connect succeeds or times out),
// so those keep the lease timing, and the holder's own fencing, as before.

// dead is a node instance proven gone.
type dead struct {
	instance string
	at       time.Time // local time of the proof
}

// defaultProbe reports whether nothing listens at addr.
func defaultProbe(ctx context.Context, addr string) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// probeLoop probes, every Tick, the members whose heartbeat is overdue.
func (m *Manager) probeLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	probing := map[string]bool{} // member ids with a probe in flight
	done := make(chan string, 16)
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-done:
			delete(probing, id)
			continue
		case <-t.C:
		}
		for _, sm := range m.suspects(time.Now()) {
			if probing[sm.ID] {
				continue
			}
			probing[sm.ID] = true
			go func() {
				defer func() { done <- sm.ID }()
				pctx, cancel := context.WithTimeout(ctx, m.cfg.Heartbeat)
				gone := m.cfg.Probe(pctx, sm.Peer)
				cancel()
				if gone && ctx.Err() == nil {
					m.proveDead(sm)
				}
			}()
		}
	}
}

// suspects are the other members, not known dead, whose heartbeat is later
// than SuspectAfter.
func (m *Manager) suspects(now time.Time) []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Member
	for id, sm := range m.members {
		if id == m.cfg.Self.ID || sm.m.Peer == "" || m.isDeadLocked(id, sm.m.Instance) || now.Sub(sm.seen) < m.cfg.SuspectAfter {
			continue
		}
		out = append(out, sm.m)
	}
	return out
}

func (m *Manager) proveDead(mem Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sm := m.members[mem.ID]; sm == nil || sm.m.Instance != mem.Instance {
		return // a new instance heartbeats meanwhile: it listens, so nothing is proven of it
	}
	if m.isDeadLocked(mem.ID, mem.Instance) {
		return
	}
	m.dead[mem.ID] = dead{instance: mem.Instance, at: time.Now()}
	m.cfg.Log.Info("node is gone: its peer port refuses connections; its shards are free", "node", mem.ID, "peer", mem.Peer)
}

// isDeadLocked: the instance of node id is proven gone.
func (m *Manager) isDeadLocked(id, instance string) bool {
	d, ok := m.dead[id]
	return ok && d.instance == instance
}

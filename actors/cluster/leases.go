package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// loop runs the lease protocol every Tick and the heartbeat every Heartbeat.
func (m *Manager) loop(ctx context.Context) {
	defer m.wg.Done()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(m.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := m.heartbeat(ctx); err != nil && ctx.Err() == nil {
					m.cfg.Log.Debug("heartbeat failed", "err", err)
				}
			}
		}
	}()
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	claiming := make(chan struct{}, 1)
	for {
		now := time.Now()
		m.fence(now)
		m.renew(ctx)
		select {
		case claiming <- struct{}{}:
			if batch, prev := m.claimable(now); len(batch) > 0 {
				go func() { defer func() { <-claiming }(); m.claim(ctx, batch, prev) }()
			} else {
				m.markReadyIfIdle()
				<-claiming
			}
		default:
		}
		m.rebalance(ctx, now)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fence stops every shard whose lease this node could not renew in time,
// before anyone else may take it over.
func (m *Manager) fence(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, h := range m.held {
		if now.Sub(h.renewedAt) > m.cfg.LeaseTTL-m.cfg.FenceMargin {
			m.cfg.Log.Warn("shard lease not renewed in time: stopping the shard", "shard", n, "since_renewal", now.Sub(h.renewedAt).Round(time.Millisecond))
			m.loseLocked(n, h)
		}
	}
}

// loseLocked forgets a lease and stops its shard (an activating shard is
// stopped by its activation when it ends).
func (m *Manager) loseLocked(n int, h *held) {
	delete(m.held, n)
	switch {
	case h.active && !h.releasing:
		go m.shards.Release(n, "")
	case !h.active && h.cancel != nil:
		h.cancel() // the activation stops what it started, then ends
	}
}

// renew extends every held lease due for it, each with CAS on the revision
// this node wrote last.
func (m *Manager) renew(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for n, h := range m.held {
		if h.renewing || now.Sub(h.renewedAt) < m.cfg.Renew {
			continue
		}
		h.renewing = true
		val := m.leaseValue(h.since)
		rev := h.rev
		go func() {
			sent := time.Now()
			cctx, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL/2)
			newRev, err := m.leases.Update(cctx, leaseKey(n), val, rev)
			cancel()
			// A renewal whose answer was lost (a timeout under load) may
			// have landed: then the lease is still this instance's, at a
			// revision this node has not seen.
			mine := false
			if isWrongRevision(err) {
				newRev, mine = m.ownLease(ctx, n)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			h.renewing = false
			if m.held[n] != h {
				return
			}
			switch {
			case mine: // when it landed is unknown: renewedAt stays, the next round renews
				h.rev = newRev
				m.leasesWatch.Wrote(newRev)
			case err == nil:
				h.rev, h.renewedAt = newRev, sent
				m.leasesWatch.Wrote(newRev)
			case isWrongRevision(err):
				m.cfg.Log.Warn("shard lease taken by another node: stopping the shard", "shard", n)
				m.loseLocked(n, h)
			default:
				if ctx.Err() == nil {
					m.cfg.Log.Debug("lease renewal failed", "shard", n, "err", err)
				}
			}
		}()
	}
}

// ownLease reports whether shard n's lease is held by this instance now,
// and at which revision.
func (m *Manager) ownLease(ctx context.Context, n int) (uint64, bool) {
	cctx, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL/2)
	defer cancel()
	e, err := m.leases.Get(cctx, leaseKey(n))
	if err != nil {
		return 0, false
	}
	var l lease
	if json.Unmarshal(e.Value(), &l) != nil || l.Node != m.cfg.Self.ID || l.Instance != m.cfg.Self.Instance {
		return 0, false
	}
	return e.Revision(), true
}

func isWrongRevision(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

func (m *Manager) leaseValue(since int64) []byte {
	b, _ := json.Marshal(lease{Node: m.cfg.Self.ID, Instance: m.cfg.Self.Instance, Since: since})
	return b
}

// claimable lists the free shards this node should claim now: those it is
// the desired owner of, and any left without an owner for longer than a
// lease (its desired owner is not claiming it).
func (m *Manager) claimable(now time.Time) (batch []int, prev map[int]*seenLease) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaving {
		return nil, nil
	}
	live := m.liveIDsLocked(now, false)
	prev = map[int]*seenLease{}
	for n := 0; n < m.cfg.Shards; n++ {
		if m.held[n] != nil {
			continue
		}
		l := m.table[n]
		var freeSince time.Time
		switch {
		case l == nil:
			freeSince = m.started // never claimed (as far as this node has seen)
		case l.deleted:
			freeSince = l.seen
		case l.lease.Node == m.cfg.Self.ID:
			freeSince = time.Time{} // this node's own (earlier life or fenced): take it back at once
		case m.isDeadLocked(l.lease.Node, l.lease.Instance):
			freeSince = m.dead[l.lease.Node].at // its holder is gone: no need to wait out the lease
		case now.Sub(l.seen) > m.cfg.LeaseTTL:
			freeSince = l.seen.Add(m.cfg.LeaseTTL)
		default:
			continue // held by someone
		}
		candidates := live
		if l != nil && !l.deleted {
			// A holder that stopped renewing is no candidate, even while
			// its last heartbeat is still young: else every survivor may
			// defer to it and the shard waits another lease for nothing.
			candidates = without(live, l.lease.Node)
		}
		if Rendezvous(n, candidates) != m.cfg.Self.ID && now.Sub(freeSince) < m.cfg.LeaseTTL {
			continue
		}
		batch = append(batch, n)
		prev[n] = l
	}
	return batch, prev
}

func without(ids []string, id string) []string {
	out := make([]string, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// liveIDsLocked is the ids of the live nodes (settled ones only when
// settled is set), this one included unless it is leaving.
func (m *Manager) liveIDsLocked(now time.Time, settled bool) []string {
	ids := []string{}
	self := false
	for _, sm := range m.aliveLocked(now, true) {
		if settled && now.Sub(sm.first) < m.cfg.Settle && sm.m.ID != m.cfg.Self.ID {
			continue
		}
		ids = append(ids, sm.m.ID)
		self = self || sm.m.ID == m.cfg.Self.ID
	}
	if !self && !m.leaving {
		ids = append(ids, m.cfg.Self.ID)
	}
	return ids
}

// claim takes the leases of batch with CAS and activates those it won.
func (m *Manager) claim(ctx context.Context, batch []int, prev map[int]*seenLease) {
	type won struct {
		n    int
		rev  uint64
		sent time.Time
	}
	results := make(chan won, len(batch))
	since := time.Now().UnixMilli()
	val := m.leaseValue(since)
	sem := make(chan struct{}, 16)
	for _, n := range batch {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, m.cfg.LeaseTTL/2)
			defer cancel()
			sent := time.Now()
			var rev uint64
			var err error
			if l := prev[n]; l == nil || l.deleted {
				rev, err = m.leases.Create(cctx, leaseKey(n), val)
			} else {
				rev, err = m.leases.Update(cctx, leaseKey(n), val, l.rev)
			}
			if err != nil {
				results <- won{n: -1}
				return
			}
			m.leasesWatch.Wrote(rev)
			results <- won{n: n, rev: rev, sent: sent}
		}()
	}
	var got []int
	previous := map[int]string{}
	hs := map[int]*held{}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.mu.Lock()
	for range batch {
		w := <-results
		if w.n < 0 {
			continue
		}
		h := &held{rev: w.rev, since: since, renewedAt: w.sent, cancel: cancel}
		m.held[w.n] = h
		hs[w.n] = h
		got = append(got, w.n)
		if l := prev[w.n]; l != nil && !l.deleted {
			previous[w.n] = l.lease.Node
		}
	}
	m.mu.Unlock()
	if len(got) == 0 {
		return
	}
	slices.Sort(got)
	m.cfg.Log.Info("claimed shards", "count", len(got), "shards", got)
	start := time.Now()
	failed, err := m.shards.Acquire(actx, got, previous)
	if err != nil {
		m.cfg.Log.Warn("activating shards", "err", err, "failed", failed)
	}
	bad := map[int]bool{}
	for _, n := range failed {
		bad[n] = true
	}
	m.mu.Lock()
	for _, n := range got {
		h := hs[n]
		switch {
		case m.held[n] != h: // lost while activating: stop whatever did start
			go m.shards.Release(n, "")
		case bad[n]:
			delete(m.held, n)
			go m.deleteLease(n, h.rev)
		default:
			h.active = true
		}
	}
	m.ready = true
	m.mu.Unlock()
	m.cfg.Log.Info("shards serving", "count", len(got)-len(failed), "took", time.Since(start).Round(time.Millisecond))
}

func (m *Manager) markReadyIfIdle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready {
		return
	}
	for _, h := range m.held {
		if !h.active {
			return
		}
	}
	m.ready = true
}

// rebalance hands shards whose desired owner is another settled node over
// to it, at most HandoffStep at a time.
func (m *Manager) rebalance(ctx context.Context, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaving {
		return
	}
	// Hand over only to nodes heard from lately: one that died a moment ago
	// still counts as live for NodeTTL.
	var live []string
	for _, id := range m.liveIDsLocked(now, true) {
		if sm := m.members[id]; id == m.cfg.Self.ID || (sm != nil && now.Sub(sm.seen) < 3*m.cfg.Heartbeat) {
			live = append(live, id)
		}
	}
	busy := 0
	for _, h := range m.held {
		if h.releasing {
			busy++
		}
	}
	for n, h := range m.held {
		if busy >= m.cfg.HandoffStep {
			return
		}
		if !h.active || h.releasing || Rendezvous(n, live) == m.cfg.Self.ID {
			continue
		}
		h.releasing = true
		busy++
		go m.handOver(ctx, n, "rebalance")
	}
}

// handOver stops a shard gracefully, then deletes its lease so the desired
// owner claims it at once. The lease is renewed until the shard is stopped.
func (m *Manager) handOver(ctx context.Context, n int, reason string) {
	m.shards.Release(n, reason)
	m.mu.Lock()
	h := m.held[n]
	delete(m.held, n)
	m.mu.Unlock()
	if h != nil {
		m.deleteLease(n, h.rev)
	}
}

// deleteLease removes this node's lease of n (CAS on the latest revision it
// wrote, which a renewal in flight may still change).
func (m *Manager) deleteLease(n int, rev uint64) {
	for attempt := 0; attempt < 20; attempt++ {
		m.mu.Lock()
		if l := m.table[n]; l != nil && !l.deleted && l.rev > rev && l.lease.Instance == m.cfg.Self.Instance {
			rev = l.rev
		}
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := m.leases.Delete(ctx, leaseKey(n), jetstream.LastRevision(rev))
		cancel()
		if err == nil || !isWrongRevision(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Rendezvous is the node that should own shard n among nodes: the one with
// the highest hash of (node, shard). Adding or removing a node moves only the
// shards it wins or held.
func Rendezvous(n int, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, id := range nodes {
		h := fnv.New64a()
		h.Write([]byte(id))
		h.Write([]byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		s := mix(h.Sum64())
		if best == "" || s > bestScore || (s == bestScore && id < best) {
			best, bestScore = id, s
		}
	}
	return best
}

// mix is splitmix64's finalizer: FNV's low bits barely differ between
// similar ids.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

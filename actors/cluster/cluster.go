// Package cluster decides which node owns which shard, without a master.
//
// Every node heartbeats into KV bucket argus_nodes. The owner a shard should
// have is the live node that ranks first for it by rendezvous hashing; the
// owner it does have is the holder of the shard's lease in KV bucket
// argus_shards. A lease is a key written with compare-and-set and renewed
// (CAS again) every Renew; a lease whose revision has not changed for
// LeaseTTL, timed on the observer's own clock from the moment it saw that
// revision, is stale and may be taken over with CAS. The holder times its own
// deadline from before it sent its last successful renewal and stops every
// side effect of the shard FenceMargin before a stale lease could be taken,
// so two nodes never run the same shard. The log fences whatever slips
// through: appends carry expected sequences.
//
// A node whose heartbeat is late is probed at its peer port; a refused
// connect proves its process gone (probe.go), and its leases are free at
// once rather than after LeaseTTL. A killed node's shards so move in about a
// second, while a slow or cut-off one keeps the lease timing.
//
// Joins and graceful leaves move shards by handoff: the holder stops the
// shard, then deletes its lease, and the desired owner claims it at once.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/nats-io/nats.go/jetstream"
)

// KV buckets of the cluster.
const (
	NodesBucket  = "argus_nodes"
	ShardsBucket = "argus_shards"
)

// Member is a node as its heartbeat describes it.
type Member struct {
	ID        string `json:"id"`
	Instance  string `json:"instance"`        // random per process: tells restarts apart
	Advertise string `json:"advertise"`       // host clients and peers reach the node at
	HTTP      string `json:"http"`            // base URL of the HTTP gateway
	RTSP      string `json:"rtsp"`            // base URL of the RTSP relay
	RTSPS     string `json:"rtsps,omitempty"` // base URL of its RTSPS port, when served
	// PublicHTTP and PublicRTSP are the bases clients outside the
	// cluster's network reach it at (--public-url, --public-rtsp); empty:
	// HTTP and RTSP.
	PublicHTTP string `json:"public_http,omitempty"`
	PublicRTSP string `json:"public_rtsp,omitempty"`
	Peer       string `json:"peer"` // node-to-node actor address (hollywood remote)
	Leaving    bool   `json:"leaving,omitempty"`
	Actors     int    `json:"actors"`
	Shards     int    `json:"shards"`
	Started    int64  `json:"started_ms"`
	// Readers is how many live readers the node serves (Config.Load).
	Readers int `json:"readers"`
}

// Shards is the side of the node that runs shards: the shard host.
type Shards interface {
	// Acquire activates the shards (this node holds their leases) and
	// returns once they serve, or with the ones that failed.
	Acquire(ctx context.Context, shards []int, previous map[int]string) (failed []int, err error)
	// Release stops every side effect of a shard and returns when they are
	// stopped; graceful releases may still append (reason != "").
	Release(shard int, reason string)
	// Actors is how many aggregate actors run on this node.
	Actors() int
}

// Config of a Manager.
type Config struct {
	JS       jetstream.JetStream
	Self     Member // ID, Advertise, HTTP, RTSP, Peer
	Shards   int
	Replicas int
	Log      *slog.Logger
	// Load, when set, is the node's live readers, published with each
	// heartbeat (the live API spreads viewers by it).
	Load func() int

	Heartbeat   time.Duration // default 500ms
	NodeTTL     time.Duration // a node is gone after this long without heartbeat; default 3s
	LeaseTTL    time.Duration // default 3s
	Renew       time.Duration // default 250ms
	FenceMargin time.Duration // default 500ms
	Tick        time.Duration // default 100ms
	// HandoffStep bounds how many shards a node hands over per Tick when
	// another node joins; default 4.
	HandoffStep int
	// Settle is how long a new node must have been seen alive before it is
	// handed shards; default 1s.
	Settle time.Duration
	// SuspectAfter is how late a heartbeat may be before its node is
	// probed; default 1.2 × Heartbeat.
	SuspectAfter time.Duration
	// Probe reports whether nothing listens at a member's Peer address any
	// more (proof that its process is gone); default a TCP connect that is
	// refused.
	Probe func(ctx context.Context, addr string) bool
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, 500*time.Millisecond)
	// The lease must outlast a JetStream leader election of the lease bucket
	// (≈1–2 s with embedded.FastFailover): every holder fails to renew
	// meanwhile and must not fence itself for that.
	def(&c.NodeTTL, 3*time.Second)
	def(&c.LeaseTTL, 3*time.Second)
	def(&c.Renew, 250*time.Millisecond)
	def(&c.FenceMargin, 500*time.Millisecond)
	def(&c.Tick, 100*time.Millisecond)
	def(&c.Settle, time.Second)
	// A probe costs a TCP connect: probe a heartbeat that is a little late.
	def(&c.SuspectAfter, c.Heartbeat*6/5)
	if c.Probe == nil {
		c.Probe = defaultProbe
	}
	if c.HandoffStep == 0 {
		c.HandoffStep = 4
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// lease is the value of a shard's key.
type lease struct {
	Node     string `json:"node"`
	Instance string `json:"instance"`
	Since    int64  `json:"since_ms"`
}

// seenLease is the latest revision of a lease key this node has seen.
type seenLease struct {
	lease   lease
	rev     uint64
	deleted bool
	seen    time.Time // local time the revision was first seen
}

type seenMember struct {
	m     Member
	rev   uint64
	seen  time.Time // local time of the latest heartbeat seen
	first time.Time // local time this instance was first seen
}

// held is a lease this node holds.
type held struct {
	rev       uint64
	since     int64
	renewedAt time.Time // send time of the last successful renewal
	renewing  bool
	active    bool // activated and serving
	releasing bool
	cancel    context.CancelFunc // ends the activation this lease is part of
}

// Manager runs membership and leases for this node.
type Manager struct {
	cfg    Config
	shards Shards
	nodes  jetstream.KeyValue
	leases jetstream.KeyValue

	mu      sync.Mutex
	members map[string]*seenMember
	table   map[int]*seenLease
	held    map[int]*held
	dead    map[string]dead // members proven gone, by id
	// the buckets' watchers; this node's acknowledged writes go to them,
	// to tell a stuck watch
	nodesWatch, leasesWatch *bucketWatch
	leaving                 bool
	ready                   bool
	started                 time.Time

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

// Start joins the cluster: heartbeats, watches leases and claims this node's
// share of shards. It returns once the watches are current.
func Start(ctx context.Context, cfg Config, shards Shards) (*Manager, error) {
	cfg.defaults()
	if cfg.Self.Instance == "" {
		b := make([]byte, 8)
		rand.Read(b)
		cfg.Self.Instance = hex.EncodeToString(b)
	}
	if cfg.Self.Started == 0 {
		cfg.Self.Started = time.Now().UnixMilli()
	}
	nodes, err := events.EnsureKeyValue(ctx, cfg.JS, jetstream.KeyValueConfig{
		Bucket: NodesBucket, Description: "Argus node heartbeats", History: 1,
		TTL: time.Minute, Replicas: cfg.Replicas, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, err
	}
	leases, err := events.EnsureKeyValue(ctx, cfg.JS, jetstream.KeyValueConfig{
		Bucket: ShardsBucket, Description: "Argus shard leases", History: 1, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m := &Manager{cfg: cfg, shards: shards, nodes: nodes, leases: leases, cancel: cancel, done: make(chan struct{}),
		members: map[string]*seenMember{}, table: map[int]*seenLease{}, held: map[int]*held{}, dead: map[string]dead{},
		started: time.Now()}
	m.nodesWatch, m.leasesWatch = m.follow(nodes, m.onNode), m.follow(leases, m.onLease)
	// A bucket just created may not answer until its leader is elected.
	if _, err := events.Retry(ctx, "heartbeat", func(ctx context.Context) (struct{}, error) { return struct{}{}, m.heartbeat(ctx) }); err != nil {
		cancel()
		return nil, err
	}
	if err := m.watch(ctx, runCtx); err != nil {
		cancel()
		return nil, err
	}
	m.wg.Add(2)
	go m.loop(runCtx)
	go m.probeLoop(runCtx)
	return m, nil
}

// Self is this node.
func (m *Manager) Self() Member { return m.cfg.Self }

// Ready: the first claims of this node have been activated (or it had none
// to make).
func (m *Manager) Ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ready
}

// Owner returns the node holding shard n's lease, if that node is alive and
// its lease current. self is true when it is this node and the shard is
// activated here.
func (m *Manager) Owner(n int) (owner Member, self bool, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.held[n]; h != nil {
		if h.active && !h.releasing {
			return m.cfg.Self, true, true
		}
		return Member{}, false, false // activating or handing over
	}
	l := m.table[n]
	if l == nil || l.deleted || time.Since(l.seen) > m.cfg.LeaseTTL {
		return Member{}, false, false
	}
	sm := m.members[l.lease.Node]
	if sm == nil || sm.m.Instance != l.lease.Instance || l.lease.Node == m.cfg.Self.ID || time.Since(sm.seen) > m.cfg.NodeTTL ||
		m.isDeadLocked(l.lease.Node, l.lease.Instance) {
		return Member{}, false, false
	}
	return sm.m, false, true
}

// Peers are the live nodes other than this one.
func (m *Manager) Peers() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Member
	for _, sm := range m.aliveLocked(time.Now(), true) {
		if sm.m.ID != m.cfg.Self.ID {
			out = append(out, sm.m)
		}
	}
	return out
}

// NodeStatus and ShardStatus are the rows of GET /v1/cluster.
type NodeStatus struct {
	ID             string `json:"id"`
	Advertise      string `json:"advertise"`
	HTTP           string `json:"http"`
	RTSP           string `json:"rtsp"`
	HeartbeatAgeMS int64  `json:"heartbeat_age_ms"`
	Shards         int    `json:"shards"`
	Actors         int    `json:"actors"`
	Leaving        bool   `json:"leaving,omitempty"`
}

type ShardStatus struct {
	ID    int    `json:"id"`
	Owner string `json:"owner"` // "" while it has none (failover in progress)
	Since int64  `json:"-"`
}

// Status is the cluster as this node sees it.
func (m *Manager) Status() ([]NodeStatus, []ShardStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	count := map[string]int{}
	shards := make([]ShardStatus, m.cfg.Shards)
	for n := range shards {
		shards[n].ID = n
		if l := m.table[n]; l != nil && !l.deleted && now.Sub(l.seen) <= m.cfg.LeaseTTL && !m.isDeadLocked(l.lease.Node, l.lease.Instance) {
			shards[n].Owner, shards[n].Since = l.lease.Node, l.lease.Since
			count[l.lease.Node]++
		}
	}
	var nodes []NodeStatus
	for _, sm := range m.aliveLocked(now, false) {
		actors := sm.m.Actors
		if sm.m.ID == m.cfg.Self.ID {
			actors = m.shards.Actors()
		}
		nodes = append(nodes, NodeStatus{ID: sm.m.ID, Advertise: sm.m.Advertise, HTTP: sm.m.HTTP, RTSP: sm.m.RTSP,
			HeartbeatAgeMS: now.Sub(sm.seen).Milliseconds(), Shards: count[sm.m.ID], Actors: actors, Leaving: sm.m.Leaving})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	return nodes, shards
}

// Members lists the nodes alive and not leaving, by id, as last heard (this
// node's own record as configured, with its load now).
func (m *Manager) Members() []Member {
	m.mu.Lock()
	alive := m.aliveLocked(time.Now(), true)
	out := make([]Member, 0, len(alive)+1)
	for _, sm := range alive {
		if sm.m.ID != m.cfg.Self.ID {
			out = append(out, sm.m)
		}
	}
	self, leaving := m.cfg.Self, m.leaving
	m.mu.Unlock()
	if !leaving {
		if m.cfg.Load != nil {
			self.Readers = m.cfg.Load()
		}
		out = append(out, self)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// aliveLocked lists members heard from within NodeTTL and not proven gone
// (without those leaving when active is set).
func (m *Manager) aliveLocked(now time.Time, active bool) []*seenMember {
	var out []*seenMember
	for _, sm := range m.members {
		if now.Sub(sm.seen) > m.cfg.NodeTTL || (active && sm.m.Leaving) || m.isDeadLocked(sm.m.ID, sm.m.Instance) {
			continue
		}
		out = append(out, sm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].m.ID < out[j].m.ID })
	return out
}

func leaseKey(n int) string { return "shard." + strconv.Itoa(n) }

func shardOfKey(k string) (int, bool) {
	if len(k) < 7 || k[:6] != "shard." {
		return 0, false
	}
	n, err := strconv.Atoi(k[6:])
	return n, err == nil
}

func (m *Manager) onNode(e jetstream.KeyValueEntry, initial bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(m.members, e.Key())
		delete(m.dead, e.Key())
		return
	}
	var mem Member
	if json.Unmarshal(e.Value(), &mem) != nil || mem.ID != e.Key() {
		return
	}
	now := time.Now()
	seen := now
	if initial {
		// An old heartbeat from before this node started: trust its age by
		// the server's clock, so a dead node is not taken for alive.
		seen = now.Add(-max(0, time.Since(e.Created())))
	}
	sm := m.members[mem.ID]
	if sm != nil && sm.rev >= e.Revision() {
		return // seen before this watch started again: keep its time
	}
	if sm == nil || sm.m.Instance != mem.Instance {
		if d, ok := m.dead[mem.ID]; ok && d.instance != mem.Instance {
			delete(m.dead, mem.ID) // a new life
		}
		sm = &seenMember{first: seen}
		m.members[mem.ID] = sm
	}
	sm.m, sm.seen, sm.rev = mem, seen, e.Revision()
}

func (m *Manager) onLease(e jetstream.KeyValueEntry, initial bool) {
	n, ok := shardOfKey(e.Key())
	if !ok || n >= m.cfg.Shards {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := time.Now()
	if initial && e.Created().Before(seen) {
		// A revision this node missed while its watch was stuck, or that
		// was written before it started: date it by the server's clock, so
		// every node times a dead holder's lease from the same instant
		// (clocks kept within the fence margin, e.g. by NTP).
		seen = e.Created()
	}
	sl := &seenLease{rev: e.Revision(), seen: seen, deleted: e.Operation() != jetstream.KeyValuePut}
	if !sl.deleted && json.Unmarshal(e.Value(), &sl.lease) != nil {
		sl.deleted = true // unreadable: treat as free
	}
	if old := m.table[n]; old != nil && old.rev >= sl.rev {
		return // our own CAS result recorded first
	}
	m.table[n] = sl
}

// heartbeat writes this node's member record.
func (m *Manager) heartbeat(ctx context.Context) error {
	m.mu.Lock()
	self := m.cfg.Self
	self.Leaving = m.leaving
	self.Shards = len(m.held)
	m.mu.Unlock()
	if m.shards != nil {
		self.Actors = m.shards.Actors()
	}
	if m.cfg.Load != nil {
		self.Readers = m.cfg.Load()
	}
	b, _ := json.Marshal(self)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rev, err := m.nodes.Put(ctx, self.ID, b)
	if err == nil {
		m.nodesWatch.Wrote(rev)
	}
	return err
}

// Stop leaves at once without handing over (the leases expire): for tests of
// crashes; Leave is the graceful way.
func (m *Manager) Stop() {
	select {
	case <-m.done:
		return
	default:
	}
	close(m.done)
	m.cancel()
	m.wg.Wait()
}

// Leave hands every shard over and removes this node's heartbeat. Others
// claim each shard as soon as its lease is deleted.
func (m *Manager) Leave(ctx context.Context) {
	m.mu.Lock()
	m.leaving = true
	var mine []int
	for n, h := range m.held {
		if !h.releasing {
			h.releasing = true
			mine = append(mine, n)
		}
	}
	m.mu.Unlock()
	m.heartbeat(ctx) // others stop choosing this node before its leases go
	var wg sync.WaitGroup
	for _, n := range mine {
		wg.Add(1)
		go func() { defer wg.Done(); m.handOver(ctx, n, "leave") }()
	}
	wg.Wait()
	m.Stop()
	dctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.nodes.Delete(dctx, m.cfg.Self.ID)
}

var errLost = errors.New("lease lost")

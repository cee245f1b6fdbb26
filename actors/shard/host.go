package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/motion"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/actors/webhook"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

var actorsActive = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "argus_actors",
	Help: "Aggregate actors active on this node.",
})

func init() { prometheus.MustRegister(actorsActive) }

// ErrNotReady: the shard is still activating or has no owner yet.
var ErrNotReady = errors.New("shard: not ready")

// Host runs the shard actors of this node and routes requests to the owner
// of each shard: to a local actor, or over hollywood remote to the node that
// owns it (see route.go).
type Host struct {
	engine     *actor.Engine
	deps       *device.Deps
	shards     int
	active     []atomic.Pointer[actor.PID] // shard actor of each shard activated here
	running    []atomic.Pointer[actor.PID] // shard actor of each shard here, also while it activates
	moves      []sync.Mutex                // serializes Acquire/Release of one shard
	terms      []atomic.Uint64             // sequence of the shard.acquired of this node's current term of each shard
	routes     sync.Map                    // device id → PID of its actor on this node
	streams    sync.Map                    // stream aggregate id → PID of its actor on this node
	plans      sync.Map                    // plan aggregate id → PID of its actor on this node
	alarms     sync.Map                    // alarm slot id → PID of its actor on this node
	webhooks   sync.Map                    // webhook id → PID of its actor on this node
	tasks      sync.Map                    // task id → PID of its actor on this node
	sdeps      *stream.Deps
	pdeps      *plan.Deps
	adeps      *alarm.Deps
	wdeps      *webhook.Deps
	tdeps      *task.Deps
	motionOpts motion.Options
	ready      atomic.Bool
	timeout    time.Duration
	handoff    time.Duration
	stop       chan struct{}
	stopped    atomic.Bool
	actors     atomic.Int64
	owners     atomic.Pointer[ownershipBox]
	router     *actor.PID
	peers      *peerGate
	media      killSwitch
	snaps      *events.Snapshots // nil: no snapshots (activation folds whole shards)
}

// Config of a host.
type Config struct {
	Shards         int            // shard count of the cluster
	Stream         stream.Deps    // stream actors' settings (Store, Node, Log, Device filled in)
	Plan           plan.Deps      // plan actors' settings (Store, Node, Log, Hold filled in)
	Alarm          alarm.Deps     // alarm actors' settings (Store, Node, Log, Directory filled in)
	Webhook        webhook.Deps   // webhook actors' settings (Store, Node, Log, Sealer, Directory filled in)
	Task           task.Deps      // task actors' settings (Store, Node, Log, Sealer, Directory filled in; Hooks from Webhook)
	Motion         motion.Options // Argus's motion detection (ffmpeg, frame rate, size)
	RequestTimeout time.Duration  // default 10s
	// Handoff bounds how long a request waits for its shard to get an
	// owner (failover, handoff) before it fails with ErrNotReady; default 5s.
	Handoff time.Duration
	// ProbeInterval: every device's camera is probed once per interval,
	// spread evenly over it (0: no probes).
	ProbeInterval time.Duration
	// Snapshots stores shard snapshots (nil: none; activation folds the
	// whole history of its shards).
	Snapshots *events.Snapshots
}

// New returns a host that owns no shard yet: Acquire gives it shards (the
// cluster manager calls it for the shards whose leases it won).
func New(engine *actor.Engine, deps *device.Deps, cfg Config) *Host {
	if cfg.Shards <= 0 {
		cfg.Shards = events.DefaultShards
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Handoff == 0 {
		cfg.Handoff = 5 * time.Second
	}
	h := &Host{engine: engine, deps: deps, shards: cfg.Shards, timeout: cfg.RequestTimeout, handoff: cfg.Handoff,
		stop: make(chan struct{}), active: make([]atomic.Pointer[actor.PID], cfg.Shards), running: make([]atomic.Pointer[actor.PID], cfg.Shards), moves: make([]sync.Mutex, cfg.Shards),
		terms: make([]atomic.Uint64, cfg.Shards)}
	sd := cfg.Stream
	sd.Store, sd.Node, sd.Log, sd.Device, sd.Register, sd.OnFenced = deps.Store, deps.Node, deps.Log, h.devicePID, h.media.register, h.fenced
	h.sdeps = &sd
	pd := cfg.Plan
	pd.Store, pd.Node, pd.Log, pd.Hold, pd.OnFenced = deps.Store, deps.Node, deps.Log, h.HoldStream, h.fenced
	if pd.Alarm == nil {
		pd.Alarm = h.Alarm
	}
	h.pdeps = &pd
	ad := cfg.Alarm
	ad.Store, ad.Node, ad.Log, ad.OnFenced = deps.Store, deps.Node, deps.Log, h.fenced
	if ad.Directory == nil {
		ad.Directory = alarm.NewDirectory()
	}
	if ad.OnChange == nil {
		ad.OnChange = h.alarmChanged
	}
	h.adeps = &ad
	wd := cfg.Webhook
	wd.Store, wd.Node, wd.Log, wd.Sealer, wd.OnFenced = deps.Store, deps.Node, deps.Log, deps.Sealer, h.fenced
	if wd.Directory == nil {
		wd.Directory = &aggregate.Directory[*pb.WebhookView]{}
	}
	h.wdeps = &wd
	td := cfg.Task
	td.Store, td.Node, td.Log, td.Sealer, td.OnFenced = deps.Store, deps.Node, deps.Log, deps.Sealer, h.fenced
	if td.Directory == nil {
		td.Directory = &aggregate.Directory[*pb.TaskView]{}
	}
	if td.Hooks == nil && wd.Cursors != nil {
		td.Hooks = wd.Hooks
	}
	td.AllowPrivate = td.AllowPrivate || wd.AllowPrivate
	h.tdeps = &td
	if deps.OnFenced == nil {
		deps.OnFenced = h.fenced
	}
	if deps.Alarm == nil {
		deps.Alarm = h.Alarm
	}
	if deps.Motion == nil {
		deps.Motion = h.WatchMotion
	}
	h.motionOpts = cfg.Motion
	if h.motionOpts.Log == nil {
		h.motionOpts.Log = deps.Log
	}
	if deps.OnRemoved == nil {
		deps.OnRemoved = func(id string) {
			h.stopDevicePlans(id)
			h.stopDeviceStreams(id)
		}
	}
	h.snaps = cfg.Snapshots
	if h.snaps != nil {
		go h.snapshotLoop()
	}
	h.peers = newPeerGate(engine)
	h.router = engine.Spawn(newRouter(h), routerKind, actor.WithID(routerID))
	if cfg.ProbeInterval > 0 && deps.Probe != nil {
		go h.probeLoop(cfg.ProbeInterval)
	}
	return h
}

// Start is a single node without a cluster: it activates every shard and
// returns once all serve.
func Start(ctx context.Context, engine *actor.Engine, deps *device.Deps, cfg Config) (*Host, error) {
	h := New(engine, deps, cfg)
	all := make([]int, h.shards)
	for n := range all {
		all[n] = n
	}
	if _, err := h.Acquire(ctx, all, nil); err != nil {
		h.Stop()
		return nil, err
	}
	h.ready.Store(true)
	return h, nil
}

// Acquire activates shards whose leases this node just won: it records the
// ownership in the log (expected sequence on the shard's subject, so of two
// claimants only one can), then activates every aggregate of those shards
// in one pass over the log. It returns the shards it could not activate.
func (h *Host) Acquire(ctx context.Context, shards []int, previous map[int]string) ([]int, error) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		ok     []int
		failed []int
		errs   []error
	)
	recordStart := time.Now()
	for _, n := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := h.recordOwnership(ctx, n, previous[n])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, n)
				errs = append(errs, fmt.Errorf("shard %d: %w", n, err))
				return
			}
			ok = append(ok, n)
		}()
	}
	wg.Wait()
	if d := time.Since(recordStart); d > time.Second {
		h.deps.Log.Warn("recording shard ownership was slow", "shards", len(shards), "took", d.Round(time.Millisecond))
	}
	if len(ok) > 0 {
		bad, err := h.activate(ctx, ok)
		failed = append(failed, bad...)
		errs = append(errs, err)
	}
	return failed, errors.Join(errs...)
}

// recordOwnership appends shard.acquired on top of the shard's last
// ownership event (of two claimants only one can) and makes its sequence
// this node's term of the shard: from then on no append of an earlier term
// (another node, or an earlier process of this one) lands in the shard.
func (h *Host) recordOwnership(ctx context.Context, n int, previous string) error {
	lost := false
	e, err := h.ownershipWriter(n).Run(ctx, nil, func() (*pb.Envelope, error) {
		if lost {
			return nil, errClaimLost
		}
		return &pb.Envelope{Payload: &pb.Envelope_ShardAcquired{ShardAcquired: &pb.ShardAcquired{Node: h.deps.Node, PreviousNode: previous, Shard: uint32(n)}}}, nil
	}, func(e events.Event) {
		// Caught up after a conflict: another claimant recorded the shard
		// first, and it wins.
		if a := e.Envelope.GetShardAcquired(); a != nil && a.Node != h.deps.Node {
			lost = true
		}
	})
	if err != nil {
		return err
	}
	h.terms[n].Store(e.Seq)
	return nil
}

// errClaimLost: another node recorded its acquisition of the shard first.
var errClaimLost = errors.New("shard: another node acquired the shard first")

// ownershipWriter appends to shard n's ownership subject through the
// aggregate loop, checked against that subject itself (it is the fence).
func (h *Host) ownershipWriter(n int) *aggregate.Writer {
	return &aggregate.Writer{Store: h.deps.Store, Ref: events.ShardRef(n), Node: h.deps.Node}
}

// fenced: an actor's append found that term ended (another node acquired
// the shard), so the shard stops here, unless a newer term runs already.
func (h *Host) fenced(t events.Term) {
	if h.terms[t.Shard].Load() != t.Seq {
		return
	}
	h.deps.Log.Warn("shard fenced: another node acquired it; stopping it here", "shard", t.Shard)
	h.active[t.Shard].Store(nil) // route elsewhere at once
	go h.Release(t.Shard, "")
}

// activate folds the shards' events in one pass and spawns their shard
// actors, each with its aggregates ready.
func (h *Host) activate(ctx context.Context, shards []int) ([]int, error) {
	start := time.Now()
	for _, n := range shards {
		h.moves[n].Lock()
	}
	defer func() {
		for _, n := range shards {
			h.moves[n].Unlock()
		}
	}()
	// The filter is the stream's own subject when every shard is wanted:
	// JetStream then reads sequentially instead of matching a wildcard
	// against every subject (5× faster at 100k devices).
	filters := []string{events.SubjectPrefix + ".>"}
	if len(shards) < h.shards {
		filters = filters[:0]
		for _, n := range shards {
			filters = append(filters, events.SubjectPrefix+"."+strconv.Itoa(n)+".>")
		}
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	foldStart := time.Now()
	base, covers := h.loadSnapshots(sctx, shards)
	preloaded, err := foldShards(sctx, h.deps.Store, filters, h.shards, shards, base, covers)
	if d := time.Since(foldStart); d > time.Second {
		h.deps.Log.Warn("activation scan was slow", "shards", len(shards), "took", d.Round(time.Millisecond))
	}
	if err != nil {
		return shards, fmt.Errorf("activation scan: %w", err)
	}
	type result struct {
		n, devices int
		err        error
	}
	results := make(chan result, len(shards))
	pids := map[int]*actor.PID{}
	for _, n := range shards {
		done := func(n, count int, err error) { results <- result{n, count, err} }
		// running first: the plans a shard activates hold their streams
		// before the shard serves commands.
		term := events.Term{Shard: n, Seq: h.terms[n].Load()}
		pids[n] = h.engine.Spawn(newShardActor(term, h, preloaded[n], done), "shard", actor.WithID(strconv.Itoa(n)))
		h.running[n].Store(pids[n])
	}
	var failed []int
	var errs []error
	devices := 0
	for range shards {
		select {
		case r := <-results:
			if r.err != nil {
				failed = append(failed, r.n)
				errs = append(errs, fmt.Errorf("shard %d: %w", r.n, r.err))
				h.running[r.n].Store(nil)
				<-h.engine.Poison(pids[r.n]).Done()
				continue
			}
			devices += r.devices
			h.active[r.n].Store(pids[r.n])
		case <-ctx.Done():
			// Lost the leases meanwhile: nothing of these shards may run on.
			for n, pid := range pids {
				h.active[n].Store(nil)
				h.running[n].Store(nil)
				<-h.engine.Poison(pid).Done()
			}
			return shards, ctx.Err()
		}
	}
	h.deps.Log.Info("shards activated", "shards", len(shards)-len(failed), "devices", devices, "from_snapshots", len(base), "took", time.Since(start).Round(time.Millisecond))
	return failed, errors.Join(errs...)
}

// Release stops shard n and with it every actor, pull, relay and recorder of
// its aggregates. A graceful release (reason set) records it in the log.
func (h *Host) Release(n int, reason string) {
	h.moves[n].Lock()
	defer h.moves[n].Unlock()
	if reason != "" && h.active[n].Load() != nil {
		// A graceful handover leaves a fresh snapshot: the next owner then
		// folds only what happens while the shard stops.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := h.Snapshot(ctx, n); err != nil {
			h.deps.Log.Warn("shard snapshot before release failed", "shard", n, "err", err)
		}
		cancel()
	}
	h.active[n].Store(nil)
	pid := h.running[n].Swap(nil)
	if pid == nil {
		return
	}
	start := time.Now()
	h.media.kill(n) // camera pulls and relays stop now, whatever their actors are doing
	// Then the media actors, all at once: pulls, relays and recorders must stop
	// within the fence margin whatever the device actors are busy with
	// (hollywood stops a parent's children one after the other). Only then
	// the shard actor, so no child is poisoned twice at once.
	var media []*actor.PID
	collect := func(k, v any) bool {
		if dev, _, ok := events.ParseChannelID(k.(string)); ok && events.ShardOf(dev, h.shards) == n {
			media = append(media, v.(*actor.PID))
		}
		return true
	}
	h.plans.Range(collect)
	h.streams.Range(collect)
	var wg sync.WaitGroup
	for _, m := range media {
		wg.Add(1)
		go func() { defer wg.Done(); <-h.engine.Poison(m).Done() }()
	}
	wg.Wait()
	mediaStopped := time.Since(start)
	<-h.engine.Poison(pid).Done()
	if mediaStopped > 250*time.Millisecond { // the fence margin is 500 ms
		h.deps.Log.Warn("stopping a shard's media was slow", "shard", n, "media", mediaStopped.Round(time.Millisecond))
	}
	if reason == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// On top of this node's own shard.acquired only: a release of a term
	// that has ended already must not land.
	w, term := h.ownershipWriter(n), h.terms[n].Load()
	_, err := w.Run(ctx, nil, func() (*pb.Envelope, error) {
		if w.LastSeq != term {
			return nil, errClaimLost
		}
		return &pb.Envelope{Payload: &pb.Envelope_ShardReleased{ShardReleased: &pb.ShardReleased{Node: h.deps.Node, Shard: uint32(n), Reason: reason}}}, nil
	}, func(events.Event) {})
	if err != nil {
		h.deps.Log.Warn("shard release not recorded", "shard", n, "err", err, "term", term)
	}
}

// Owns reports whether shard n is activated on this node.
func (h *Host) Owns(n int) bool { return h.active[n].Load() != nil }

// Actors is the number of aggregate actors on this node.
func (h *Host) Actors() int { return int(h.actors.Load()) }

// Ready reports whether the host routes requests: every shard activated on
// a single node; in a cluster, this node's first claims are activated.
func (h *Host) Ready() bool {
	if h.stopped.Load() {
		return false
	}
	if o := h.ownership(); o != nil {
		return o.Ready()
	}
	return h.ready.Load()
}

// Shards is the cluster's shard count.
func (h *Host) Shards() int { return h.shards }

// Ref is the device aggregate's reference.
func (h *Host) Ref(deviceID string) events.Ref {
	return events.Ref{Shard: events.ShardOf(deviceID, h.shards), Kind: events.KindDevice, ID: deviceID}
}

// Ask routes a command to the device's actor, wherever it runs, and waits
// for its reply.
func (h *Host) Ask(ctx context.Context, deviceID string, cmd proto.Message) (*pb.DeviceReply, error) {
	if !events.ValidID(deviceID) {
		return nil, events.ErrInvalidID
	}
	r, err := h.route(ctx, events.ShardOf(deviceID, h.shards), cmd, func(ctx context.Context) (proto.Message, error) {
		return h.askLocal(ctx, deviceID, cmd)
	})
	if err != nil {
		return nil, err
	}
	dr, ok := r.(*pb.DeviceReply)
	if !ok {
		return nil, fmt.Errorf("shard: unexpected reply %T", r)
	}
	return dr, nil
}

// askLocal asks the device's actor on this node (its shard is active here).
func (h *Host) askLocal(ctx context.Context, deviceID string, cmd proto.Message) (*pb.DeviceReply, error) {
	n := events.ShardOf(deviceID, h.shards)
	timeout := h.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	reply := make(chan *pb.DeviceReply, 1)
	ask := &device.Ask{Cmd: cmd, Reply: reply} // the actor clears ask's fields once it answered
	// Straight to the device actor when it is running; through its shard
	// actor otherwise (which spawns it for a register, or answers 404).
	if pid, ok := h.routes.Load(deviceID); ok {
		h.engine.Send(pid.(*actor.PID), ask)
	} else if spid := h.active[n].Load(); spid != nil {
		h.engine.Send(spid, ask)
	} else {
		return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "shard not active on this node"}, nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-reply:
		return r, nil
	case <-t.C:
		return nil, fmt.Errorf("shard: no answer for device %s in %s", deviceID, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// probeLoop asks every device actor to probe its camera once per interval,
// spread over the interval so a node with many cameras probes steadily
// rather than in bursts.
func (h *Host) probeLoop(interval time.Duration) {
	for {
		var pids []*actor.PID
		h.routes.Range(func(_, v any) bool {
			pids = append(pids, v.(*actor.PID))
			return true
		})
		gap := interval
		if len(pids) > 0 {
			gap = interval / time.Duration(len(pids))
		}
		start := time.Now()
		for i, pid := range pids {
			select {
			case <-h.stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * gap))):
			}
			h.engine.Send(pid, device.Probe{})
		}
		select {
		case <-h.stop:
			return
		case <-time.After(time.Until(start.Add(interval))):
		}
	}
}

// Stop stops every shard actor and with them their aggregates (without
// recording a release: a cluster node leaves through its manager first).
func (h *Host) Stop() {
	if h.stopped.Swap(true) {
		return
	}
	close(h.stop)
	h.ready.Store(false)
	var wg sync.WaitGroup
	for n := range h.active {
		wg.Add(1)
		go func() { defer wg.Done(); h.Release(n, "") }()
	}
	wg.Wait()
	<-h.engine.Poison(h.router).Done()
}

// killSwitch stops the camera pulls of a shard directly, not through their
// actors' mailboxes: an actor waiting on the log (NATS cut off) would only
// see a poison pill after the append timeout, past the lease's fence.
type killSwitch struct {
	mu    sync.Mutex
	next  uint64
	stops map[int]map[uint64]func()
}

func (k *killSwitch) register(shard int, stop func()) func() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stops == nil {
		k.stops = map[int]map[uint64]func(){}
	}
	if k.stops[shard] == nil {
		k.stops[shard] = map[uint64]func(){}
	}
	k.next++
	id := k.next
	k.stops[shard][id] = stop
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.stops[shard], id)
	}
}

// kill runs every stop of the shard at once and waits for them.
func (k *killSwitch) kill(shard int) {
	k.mu.Lock()
	stops := k.stops[shard]
	delete(k.stops, shard)
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Add(1)
		go func() { defer wg.Done(); stop() }()
	}
	wg.Wait()
}

// Camera is what this node needs to talk to a device's camera itself (its
// ONVIF address, stream URLs and credentials): only the node hosting the
// device answers (device.ErrNotHere elsewhere); a removed or unknown device
// is reported with Found false.
func (h *Host) Camera(ctx context.Context, id string) (device.TargetInfo, error) {
	pid, ok := h.routes.Load(id)
	if !ok {
		if h.active[events.ShardOf(id, h.shards)].Load() == nil {
			return device.TargetInfo{}, device.ErrNotHere
		}
		return device.TargetInfo{}, nil // the shard is here, the device is not
	}
	reply := make(chan device.TargetInfo, 1)
	h.engine.Send(pid.(*actor.PID), &device.Target{Reply: reply})
	select {
	case t := <-reply:
		return t, nil
	case <-ctx.Done():
		return device.TargetInfo{}, ctx.Err()
	}
}

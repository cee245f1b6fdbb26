package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/stream"
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

// Host runs the shard actors of this node and routes requests to them.
type Host struct {
	engine  *actor.Engine
	deps    *device.Deps
	shards  int
	pids    []*actor.PID
	routes  sync.Map // device id → PID of its actor on this node
	streams sync.Map // stream aggregate id → PID of its actor on this node
	plans   sync.Map // plan aggregate id → PID of its actor on this node
	sdeps   *stream.Deps
	pdeps   *plan.Deps
	ready   atomic.Bool
	timeout time.Duration
	stop    chan struct{}
}

// Config of a host.
type Config struct {
	Shards         int           // shard count of the cluster
	Stream         stream.Deps   // stream actors' settings (Store, Node, Log, Device filled in)
	Plan           plan.Deps     // plan actors' settings (Store, Node, Log, Hold filled in)
	RequestTimeout time.Duration // default 10s
	// ProbeInterval: every device's camera is probed once per interval,
	// spread evenly over it (0: no probes).
	ProbeInterval time.Duration
}

// Start spawns every shard actor, each of which activates its aggregates
// from the log, and returns once all are activated (or ctx ends).
func Start(ctx context.Context, engine *actor.Engine, deps *device.Deps, cfg Config) (*Host, error) {
	if cfg.Shards <= 0 {
		cfg.Shards = events.DefaultShards
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	h := &Host{engine: engine, deps: deps, shards: cfg.Shards, timeout: cfg.RequestTimeout, stop: make(chan struct{})}
	sd := cfg.Stream
	sd.Store, sd.Node, sd.Log, sd.Device = deps.Store, deps.Node, deps.Log, h.devicePID
	h.sdeps = &sd
	pd := cfg.Plan
	pd.Store, pd.Node, pd.Log, pd.Hold = deps.Store, deps.Node, deps.Log, h.HoldStream
	h.pdeps = &pd
	if deps.OnRemoved == nil {
		deps.OnRemoved = func(id string) {
			h.stopDevicePlans(id)
			h.stopDeviceStreams(id)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		devices atomic.Int64
	)
	start := time.Now()
	// One pass over the log for every shard this node owns (all of them, on
	// a single node); each shard actor then spawns its devices ready. The
	// filter is the stream's own subject: JetStream then reads sequentially
	// instead of matching a wildcard against every subject (5× faster at
	// 100k devices); other kinds are skipped here.
	preloaded, err := foldShards(ctx, deps.Store, []string{events.SubjectPrefix + ".>"}, cfg.Shards)
	if err != nil {
		return nil, fmt.Errorf("activation scan: %w", err)
	}
	wg.Add(cfg.Shards)
	for n := 0; n < cfg.Shards; n++ {
		done := func(n, count int, err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("shard %d: %w", n, err))
				mu.Unlock()
			}
			devices.Add(int64(count))
			wg.Done()
		}
		h.pids = append(h.pids, engine.Spawn(newShardActor(n, h, preloaded[n], done), "shard", actor.WithID(fmt.Sprint(n))))
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h.ready.Store(true)
	if cfg.ProbeInterval > 0 && deps.Probe != nil {
		go h.probeLoop(cfg.ProbeInterval)
	}
	deps.Log.Info("shards activated", "shards", cfg.Shards, "devices", devices.Load(), "took", time.Since(start).Round(time.Millisecond))
	return h, nil
}

// Ready reports whether every shard has been activated.
func (h *Host) Ready() bool { return h.ready.Load() }

// Shards is the cluster's shard count.
func (h *Host) Shards() int { return h.shards }

// Ref is the device aggregate's reference.
func (h *Host) Ref(deviceID string) events.Ref {
	return events.Ref{Shard: events.ShardOf(deviceID, h.shards), Kind: events.KindDevice, ID: deviceID}
}

// Ask routes a command to the device's actor and waits for its reply.
func (h *Host) Ask(ctx context.Context, deviceID string, cmd proto.Message) (*pb.DeviceReply, error) {
	if !events.ValidID(deviceID) {
		return nil, events.ErrInvalidID
	}
	if !h.Ready() {
		return nil, ErrNotReady
	}
	timeout := h.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	ask := &device.Ask{Cmd: cmd, Reply: make(chan *pb.DeviceReply, 1)}
	// Straight to the device actor when it is running; through its shard
	// actor otherwise (which spawns it for a register, or answers 404).
	if pid, ok := h.routes.Load(deviceID); ok {
		h.engine.Send(pid.(*actor.PID), ask)
	} else {
		h.engine.Send(h.pids[events.ShardOf(deviceID, h.shards)], ask)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ask.Reply:
		return r, nil
	case <-t.C:
		return nil, fmt.Errorf("shard: no answer for device %s in %s", deviceID, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// List pages the devices this node hosts.
func (h *Host) List(_ context.Context, limit int, cursor, labelKey, labelValue string) ([]*pb.DeviceView, string, error) {
	items, next := h.deps.Directory.List(limit, cursor, labelKey, labelValue)
	return items, next, nil
}

// History reads a device's events from the log, with the events of its
// channels' streams and recording plans, in log order.
func (h *Host) History(ctx context.Context, deviceID string) ([]events.Event, error) {
	if !events.ValidID(deviceID) {
		return nil, events.ErrInvalidID
	}
	ref := h.Ref(deviceID)
	subjects := []string{ref.Subject()}
	for ch := 1; ch <= events.MaxChannels; ch++ { // NATS wildcards are whole tokens: list the channels
		id := events.ChannelID(deviceID, ch)
		subjects = append(subjects, events.Ref{Shard: ref.Shard, Kind: events.KindStream, ID: id}.Subject(),
			events.Ref{Shard: ref.Shard, Kind: events.KindPlan, ID: id}.Subject())
	}
	var out []events.Event
	err := h.deps.Store.Scan(ctx, subjects, 0, func(e events.Event) error {
		out = append(out, e)
		return nil
	})
	return out, err
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

// Stop stops every shard actor and with them their aggregates.
func (h *Host) Stop() {
	if !h.ready.Load() {
		return
	}
	close(h.stop)
	h.ready.Store(false)
	var wg sync.WaitGroup
	for _, pid := range h.pids {
		wg.Add(1)
		go func() { defer wg.Done(); <-h.engine.Poison(pid).Done() }()
	}
	wg.Wait()
}

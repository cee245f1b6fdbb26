// Package shard hosts aggregate actors grouped by shard and routes every
// command aggregate → shard → owner → actor. On a single node this node owns
// every shard; the cluster issue swaps in lease-based ownership.
package shard

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/actors/webhook"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// shardActor owns one shard's aggregates: it activates them all from the log
// when it starts (eager, "remember entities") and forwards commands to them.
type shardActor struct {
	n       int
	term    events.Term // the ownership term its aggregates write in
	deps    *device.Deps
	kids    map[string]*actor.PID
	routes  *sync.Map // the host's id → PID index, so commands skip this hop
	streams *sync.Map // the host's stream id → PID index
	sdeps   *stream.Deps
	onDone  func(n, devices int, err error)
	// preloaded states from the host's activation scan (nil: scan the shard)
	preloaded *shardState
	plans     *sync.Map // the host's plan id → PID index
	pdeps     *plan.Deps
	actors    *atomic.Int64 // the host's actor count
	snaps     *events.Snapshots
	shards    int
	alarms    *sync.Map // the host's alarm slot id → PID index
	adeps     *alarm.Deps
	// alarmStates: folded states of the slots without an actor yet (no
	// open alarm); spawnAlarm hands one to its actor.
	alarmStates map[string]*alarm.State
	webhooks    *sync.Map // the host's webhook id → PID index
	wdeps       *webhook.Deps
	tasks       *sync.Map // the host's task id → PID index
	tdeps       *task.Deps
}

func newShardActor(term events.Term, h *Host, preloaded *shardState, onDone func(int, int, error)) actor.Producer {
	return func() actor.Receiver {
		return &shardActor{n: term.Shard, term: term, deps: h.deps, routes: &h.routes, streams: &h.streams, plans: &h.plans,
			sdeps: h.sdeps, pdeps: h.pdeps, actors: &h.actors, onDone: onDone, preloaded: preloaded, kids: map[string]*actor.PID{},
			snaps: h.snaps, shards: h.shards, alarms: &h.alarms, adeps: h.adeps, alarmStates: map[string]*alarm.State{},
			webhooks: &h.webhooks, wdeps: h.wdeps, tasks: &h.tasks, tdeps: h.tdeps}
	}
}

func (s *shardActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		n, err := s.activate(c)
		s.onDone(s.n, n, err)
	case *spawnStream:
		m.reply <- s.spawnStream(c, m.key)
	case *spawnPlan:
		m.reply <- s.spawnPlan(c, m.id, nil)
	case *spawnAlarm:
		m.reply <- s.spawnAlarm(c, m.slot, m.create)
	case *spawnWebhook:
		m.reply <- s.spawnWebhook(c, m.id, nil, m.create)
	case *spawnTask:
		m.reply <- s.spawnTask(c, m.id, nil, m.create)
	case *task.Done:
		s.taskDone(c, m.ID)
	case *takeSnapshot:
		s.snapshot(c, m)
	case actor.Stopped:
		for id := range s.kids {
			s.routes.Delete(id)
			s.streams.Delete(id)
			s.plans.Delete(strings.TrimSuffix(id, "#plan"))
			s.alarms.Delete(strings.TrimSuffix(id, "#alarm"))
			s.webhooks.Delete(strings.TrimSuffix(id, "#webhook"))
			s.tasks.Delete(strings.TrimSuffix(id, "#task"))
		}
		actorsActive.Sub(float64(len(s.kids)))
		s.actors.Add(-int64(len(s.kids)))
	case *device.Ask:
		_, create := m.Cmd.(*pb.RegisterDevice)
		s.forward(c, m.ID(), create, func(r *pb.DeviceReply) { m.Reply <- r })
	case *pb.RegisterDevice:
		s.forward(c, m.Id, true, respond(c))
	case *pb.UpdateDevice:
		s.forward(c, m.Id, false, respond(c))
	case *pb.RemoveDevice:
		s.forward(c, m.Id, false, respond(c))
	case *pb.GetDevice:
		s.forward(c, m.Id, false, respond(c))
	}
}

func respond(c *actor.Context) func(*pb.DeviceReply) {
	return func(r *pb.DeviceReply) { c.Respond(r) }
}

// forward passes the message on with the original sender, so the device
// actor answers the requester directly.
func (s *shardActor) forward(c *actor.Context, id string, create bool, respond func(*pb.DeviceReply)) {
	pid, ok := s.kids[id]
	if !ok {
		if !create {
			respond(&pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "device not found"})
			return
		}
		// A device with no events yet: its first append expects sequence 0,
		// so if the log has events after all the append fails and the actor
		// catches up before deciding again.
		pid = s.spawn(c, id, &device.State{})
	}
	c.Engine().SendWithSender(pid, c.Message(), c.Sender())
}

func (s *shardActor) spawn(c *actor.Context, id string, st *device.State) *actor.PID {
	ref := events.Ref{Shard: s.n, Kind: events.KindDevice, ID: id}
	pid := c.SpawnChild(device.New(s.deps, ref, s.term, st), events.KindDevice, actor.WithID(id), actor.WithInboxSize(8))
	s.kids[id] = pid
	s.routes.Store(id, pid)
	actorsActive.Inc()
	s.actors.Add(1)
	return pid
}

// spawnStream starts (or finds) the stream actor of a device channel.
func (s *shardActor) spawnStream(c *actor.Context, k relay.Key) *actor.PID {
	id := events.ChannelID(k.Device, k.Channel)
	pid, ok := s.kids[id]
	if !ok {
		pid = c.SpawnChild(stream.New(s.sdeps, s.term, k), events.KindStream, actor.WithID(id), actor.WithInboxSize(16))
		s.kids[id] = pid
		s.streams.Store(id, pid)
		actorsActive.Inc()
		s.actors.Add(1)
	}
	return pid
}

// shardState is what activation folded for one shard.
type shardState struct {
	devices  map[string]*device.State
	plans    map[string]*plan.State  // by "<device>~<channel>"
	alarms   map[string]*alarm.State // by slot id
	webhooks map[string]*webhook.State
	tasks    map[string]*task.State
	// live: streams whose session was running when their last owner
	// stopped (no stream.stopped, or stopped by a shutdown or handover):
	// they were watched, so the new owner pulls again at once and the
	// readers that reconnect find the stream hot.
	live map[string]bool
}

// activate spawns an actor per device and per recording plan of the shard
// with its state ready: from the host's one-pass scan when it has one, else
// by scanning the shard.
func (s *shardActor) activate(c *actor.Context) (int, error) {
	st := s.preloaded
	s.preloaded = nil
	if st == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		all, err := foldShards(ctx, s.deps.Store, []string{events.SubjectPrefix + "." + strconv.Itoa(s.n) + ".>"}, s.n+1, []int{s.n}, nil, nil)
		if err != nil {
			return 0, err
		}
		st = all[s.n]
	}
	if st == nil {
		return 0, nil
	}
	for id, ds := range st.devices {
		s.spawn(c, id, ds)
	}
	for id, ps := range st.plans {
		if ps.Plan != nil {
			s.spawnPlan(c, id, ps)
		}
	}
	for id, as := range st.alarms {
		if slot, ok := events.ParseAlarmSlot(id); ok && st.devices[slot.Device] != nil {
			s.alarmStates[id] = as
			if as.Open() != nil {
				s.spawnAlarm(c, slot, false)
			}
		}
	}
	for id, ws := range st.webhooks {
		if ws.Registered {
			s.spawnWebhook(c, id, ws, false)
		}
	}
	now := time.Now()
	for id, ts := range st.tasks {
		if wantsActor(ts, now) {
			s.spawnTask(c, id, ts, false)
		}
	}
	for id, live := range st.live {
		dev, ch, ok := events.ParseChannelID(id)
		if !live || !ok || st.devices[dev] == nil || !st.devices[dev].Registered {
			continue
		}
		// The stream closes by itself when no reader comes back in time.
		pid := s.spawnStream(c, relay.Key{Device: dev, Channel: ch})
		c.Send(pid, &stream.Open{Reply: make(chan stream.OpenResult, 1)})
	}
	return len(st.devices), nil
}

// foldShards reads events matching filters in one ordered pass and folds
// them per shard and aggregate (devices and plans; streams need no history)
// on top of the shards' snapshots (base, covering the log up to covers[n]):
// the pass starts after the oldest snapshot the shards have, or at the
// beginning when one has none.
func foldShards(ctx context.Context, store *events.Store, filters []string, shards int, wanted []int, base map[int]*shardState, covers map[int]uint64) ([]*shardState, error) {
	out := make([]*shardState, shards)
	var after uint64
	whole := false // a shard without a snapshot folds from the start
	for i, n := range wanted {
		if st := base[n]; st != nil {
			out[n] = st
			if i == 0 || covers[n] < after {
				after = covers[n]
			}
		} else {
			whole = true
		}
	}
	if whole {
		after = 0
	}
	err := store.Scan(ctx, filters, after, func(e events.Event) error {
		ref, ok := events.ParseSubject(e.Subject)
		if !ok || ref.Shard >= shards || e.Seq <= covers[ref.Shard] {
			return nil
		}
		sh := out[ref.Shard]
		if sh == nil {
			sh = newShardState()
			out[ref.Shard] = sh
		}
		switch ref.Kind {
		case events.KindDevice:
			foldInto(sh.devices, ref.ID, e)
		case events.KindStream:
			switch p := e.Envelope.Payload.(type) {
			case *pb.Envelope_StreamStarted:
				sh.live[ref.ID] = true
			case *pb.Envelope_StreamStopped:
				sh.live[ref.ID] = p.StreamStopped.Reason == "shutdown"
			}
		case events.KindAlarm:
			foldInto(sh.alarms, ref.ID, e)
		case events.KindWebhook:
			foldInto(sh.webhooks, ref.ID, e)
		case events.KindTask:
			foldInto(sh.tasks, ref.ID, e)
		case events.KindPlan:
			foldInto(sh.plans, ref.ID, e)
		}
		return nil
	})
	return out, err
}

// foldInto applies e to the state of aggregate id (new when absent), unless
// the state holds it already (it came from a snapshot covering it).
func foldInto[S any, P interface {
	*S
	Apply(events.Event)
	AppliedSeq() uint64
}](states map[string]*S, id string, e events.Event) {
	st := states[id]
	if st == nil {
		st = new(S)
		states[id] = st
	}
	if e.Seq > P(st).AppliedSeq() {
		P(st).Apply(e)
	}
}

// spawnPlan starts a plan actor (st nil: a new plan).
func (s *shardActor) spawnPlan(c *actor.Context, id string, st *plan.State) *actor.PID {
	if pid, ok := s.kids[id+"#plan"]; ok {
		return pid
	}
	dev, ch, ok := events.ParseChannelID(id)
	if !ok {
		return nil
	}
	pid := c.SpawnChild(plan.New(s.pdeps, s.term, relay.Key{Device: dev, Channel: ch}, st), events.KindPlan, actor.WithID(id), actor.WithInboxSize(16))
	s.kids[id+"#plan"] = pid
	s.plans.Store(id, pid)
	actorsActive.Inc()
	s.actors.Add(1)
	return pid
}

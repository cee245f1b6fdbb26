// Package shard hosts aggregate actors grouped by shard and routes every
// command aggregate → shard → owner → actor. On a single node this node owns
// every shard; the cluster issue swaps in lease-based ownership.
package shard

import (
	"context"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// shardActor owns one shard's aggregates: it activates them all from the log
// when it starts (eager, "remember entities") and forwards commands to them.
type shardActor struct {
	n       int
	deps    *device.Deps
	kids    map[string]*actor.PID
	routes  *sync.Map // the host's id → PID index, so commands skip this hop
	streams *sync.Map // the host's stream id → PID index
	sdeps   *stream.Deps
	onDone  func(n, devices int, err error)
	// preloaded states from the host's activation scan (nil: scan the shard)
	preloaded map[string]*device.State
}

func newShardActor(n int, h *Host, preloaded map[string]*device.State, onDone func(int, int, error)) actor.Producer {
	return func() actor.Receiver {
		return &shardActor{n: n, deps: h.deps, routes: &h.routes, streams: &h.streams, sdeps: h.sdeps,
			onDone: onDone, preloaded: preloaded, kids: map[string]*actor.PID{}}
	}
}

func (s *shardActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		n, err := s.activate(c)
		s.onDone(s.n, n, err)
	case *spawnStream:
		id := events.ChannelID(m.key.Device, m.key.Channel)
		pid, ok := s.kids[id]
		if !ok {
			pid = c.SpawnChild(stream.New(s.sdeps, s.n, m.key), events.KindStream, actor.WithID(id), actor.WithInboxSize(16))
			s.kids[id] = pid
			s.streams.Store(id, pid)
		}
		m.reply <- pid
	case actor.Stopped:
		for id := range s.kids {
			s.routes.Delete(id)
			s.streams.Delete(id)
		}
		actorsActive.Sub(float64(len(s.kids)))
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
	pid := c.SpawnChild(device.New(s.deps, ref, st), events.KindDevice, actor.WithID(id), actor.WithInboxSize(8))
	s.kids[id] = pid
	s.routes.Store(id, pid)
	actorsActive.Inc()
	return pid
}

// activate spawns an actor per device of the shard with its state ready:
// from the host's one-pass scan when it has one, else by scanning the shard.
func (s *shardActor) activate(c *actor.Context) (int, error) {
	states := s.preloaded
	s.preloaded = nil
	if states == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		all, err := foldDevices(ctx, s.deps.Store, []string{events.ShardFilter(s.n, events.KindDevice)}, s.n+1)
		if err != nil {
			return 0, err
		}
		states = all[s.n]
	}
	for id, st := range states {
		s.spawn(c, id, st)
	}
	return len(states), nil
}

// foldDevices reads device events matching filters in one ordered pass and
// folds them per shard and device.
func foldDevices(ctx context.Context, store *events.Store, filters []string, shards int) ([]map[string]*device.State, error) {
	out := make([]map[string]*device.State, shards)
	err := store.Scan(ctx, filters, 0, func(e events.Event) error {
		ref, ok := events.ParseSubject(e.Subject)
		if !ok || ref.Shard >= shards || ref.Kind != events.KindDevice {
			return nil
		}
		m := out[ref.Shard]
		if m == nil {
			m = map[string]*device.State{}
			out[ref.Shard] = m
		}
		st := m[ref.ID]
		if st == nil {
			st = &device.State{}
			m[ref.ID] = st
		}
		st.Apply(e)
		return nil
	})
	return out, err
}

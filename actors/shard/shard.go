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
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// shardActor owns one shard's aggregates: it activates them all from the log
// when it starts (eager, "remember entities") and forwards commands to them.
type shardActor struct {
	n      int
	deps   *device.Deps
	kids   map[string]*actor.PID
	routes *sync.Map // the host's id → PID index, so commands skip this hop
	onDone func(n, devices int, err error)
}

func newShardActor(n int, deps *device.Deps, routes *sync.Map, onDone func(int, int, error)) actor.Producer {
	return func() actor.Receiver {
		return &shardActor{n: n, deps: deps, routes: routes, onDone: onDone, kids: map[string]*actor.PID{}}
	}
}

func (s *shardActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		n, err := s.activate(c)
		s.onDone(s.n, n, err)
	case actor.Stopped:
		for id := range s.kids {
			s.routes.Delete(id)
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

// activate folds the whole shard's device events in one ordered pass and
// spawns an actor per device with its state ready.
func (s *shardActor) activate(c *actor.Context) (int, error) {
	states := map[string]*device.State{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := s.deps.Store.Scan(ctx, events.ShardFilter(s.n, events.KindDevice), 0, func(e events.Event) error {
		st := states[e.Envelope.AggregateId]
		if st == nil {
			st = &device.State{}
			states[e.Envelope.AggregateId] = st
		}
		st.Apply(e)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for id, st := range states {
		s.spawn(c, id, st)
		if s.deps.Directory != nil && st.Registered {
			s.deps.Directory.Put(st.View())
		}
	}
	if len(states) > 0 {
		s.deps.Log.Debug("shard activated", "shard", s.n, "devices", len(states))
	}
	return len(states), nil
}

package shard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// spawnAlarm asks a shard actor for a slot's actor: the running one, one
// started from the slot's folded state, or (create) a new one.
type spawnAlarm struct {
	slot   events.AlarmSlot
	create bool
	reply  chan *actor.PID
}

// alarmKid is a slot actor's key among its shard actor's children.
func alarmKid(slot string) string { return slot + "#alarm" }

// spawnAlarm starts (or finds) a slot's actor. Slots without an open alarm
// get an actor only when a command comes for them (most slots are quiet).
func (s *shardActor) spawnAlarm(c *actor.Context, slot events.AlarmSlot, create bool) *actor.PID {
	id := slot.ID()
	if pid, ok := s.kids[alarmKid(id)]; ok {
		return pid
	}
	st := s.alarmStates[id]
	if st == nil && !create {
		return nil
	}
	delete(s.alarmStates, id) // the actor holds it from now on
	pid := c.SpawnChild(alarm.New(s.adeps, s.term, slot, st), events.KindAlarm, actor.WithID(id), actor.WithInboxSize(8))
	s.kids[alarmKid(id)] = pid
	s.alarms.Store(id, pid)
	actorsActive.Inc()
	s.actors.Add(1)
	return pid
}

// slotOf is the slot an alarm command is for.
func slotOf(cmd proto.Message) (events.AlarmSlot, bool) {
	switch m := cmd.(type) {
	case *pb.RaiseAlarm:
		s := events.AlarmSlot{Device: m.Device, Channel: int(m.Channel), Type: m.Type}
		_, ok := events.ParseAlarmSlot(s.ID())
		return s, ok
	case *pb.EndAlarm:
		return events.ParseAlarmSlot(m.Slot)
	case interface{ GetId() string }: // AckAlarm, ClearAlarm, GetAlarm
		s, _, ok := events.ParseAlarmID(m.GetId())
		return s, ok
	}
	return events.AlarmSlot{}, false
}

// AskAlarm routes an alarm command to its slot's actor, wherever it runs.
func (h *Host) AskAlarm(ctx context.Context, cmd proto.Message) (*pb.AlarmReply, error) {
	slot, ok := slotOf(cmd)
	if !ok {
		return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such alarm"}, nil
	}
	r, err := h.route(ctx, events.ShardOf(slot.Device, h.shards), cmd, func(ctx context.Context) (proto.Message, error) {
		return h.askAlarmLocal(ctx, slot, cmd)
	})
	if err != nil {
		return nil, err
	}
	ar, ok := r.(*pb.AlarmReply)
	if !ok {
		return nil, fmt.Errorf("shard: unexpected reply %T", r)
	}
	return ar, nil
}

// askAlarmLocal asks the slot's actor on this node (its shard is active here).
func (h *Host) askAlarmLocal(ctx context.Context, slot events.AlarmSlot, cmd proto.Message) (*pb.AlarmReply, error) {
	if !h.Owns(events.ShardOf(slot.Device, h.shards)) {
		return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "shard not active on this node"}, nil
	}
	_, raise := cmd.(*pb.RaiseAlarm)
	if raise {
		switch n := h.channels(ctx, slot.Device); {
		case n == 0:
			return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Field: "device", Detail: "no such device: " + slot.Device}, nil
		case slot.Channel > n:
			return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Field: "channel", Detail: fmt.Sprintf("device %s has channels 1..%d", slot.Device, n)}, nil
		}
	}
	pid, err := h.alarmPID(ctx, slot, raise)
	if err != nil {
		return nil, err
	}
	if pid == nil {
		return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such alarm"}, nil
	}
	reply := make(chan *pb.AlarmReply, 1)
	h.engine.Send(pid, &alarm.Ask{Cmd: cmd, Reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *Host) alarmPID(ctx context.Context, slot events.AlarmSlot, create bool) (*actor.PID, error) {
	return h.kidPID(ctx, &h.alarms, events.ShardOf(slot.Device, h.shards),
		func(reply chan *actor.PID) any { return &spawnAlarm{slot: slot, create: create, reply: reply} }, slot.ID())
}

// Alarm passes a command of the node's own checks (camera events, device
// offline, recording) to its slot without waiting: the actor that noticed
// must not block on another. Failures are logged.
func (h *Host) Alarm(cmd proto.Message) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		defer cancel()
		r, err := h.AskAlarm(ctx, cmd)
		if err == nil && r.GetCode() != pb.ReplyCode_REPLY_CODE_OK && r.GetCode() != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
			err = errors.New(r.GetCode().String() + ": " + r.GetDetail())
		}
		if err != nil {
			h.deps.Log.Warn("alarm not recorded", "command", fmt.Sprintf("%T", cmd), "err", err)
		}
	}()
}

// ListAlarms lists the open alarms of the whole cluster (each node lists
// those its slot actors hold), newest first.
func (h *Host) ListAlarms(ctx context.Context, q *pb.ListAlarms) ([]*pb.AlarmView, error) {
	items := h.adeps.Directory.List(q)
	more, err := fromPeers(ctx, h, q, func(v any) ([]*pb.AlarmView, bool) {
		l, ok := v.(*pb.AlarmList)
		return l.GetItems(), ok
	})
	if err != nil {
		return nil, err
	}
	items = append(items, more...)
	SortAlarms(items)
	// A slot moving between nodes may show up on both for a moment.
	return slices.CompactFunc(items, func(a, b *pb.AlarmView) bool { return a.Id == b.Id }), nil
}

// SortAlarms orders alarms newest raise first, then by id.
func SortAlarms(items []*pb.AlarmView) {
	slices.SortFunc(items, func(a, b *pb.AlarmView) int {
		return cmp.Or(cmp.Compare(b.RaisedAtUnixMs, a.RaisedAtUnixMs), strings.Compare(a.Id, b.Id))
	})
}

// alarmChanged tells the plans of an alarm's channel (every channel for
// an alarm of the device as a whole) about it: event recordings.
func (h *Host) alarmChanged(v *pb.AlarmView, pulse bool) {
	active := v.Active && (v.Source == alarm.SourceCamera || v.Source == alarm.SourceMotion) && v.State != alarm.Cleared
	t := plan.Trigger{Alarm: v.Id, Type: v.Type, Pulse: pulse, Active: active}
	for ch := 1; ch <= events.MaxChannels; ch++ {
		if v.Channel != 0 && ch != int(v.Channel) {
			continue
		}
		if pid, ok := h.plans.Load(events.ChannelID(v.Device, ch)); ok {
			h.engine.Send(pid.(*actor.PID), t)
		}
	}
}

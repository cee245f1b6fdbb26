package shard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// spawnPlan asks a shard actor to start (or find) a plan actor.
type spawnPlan struct {
	id    string
	reply chan *actor.PID
}

// HoldStream keeps a device channel's stream up for a recording, or lets it go.
func (h *Host) HoldStream(ctx context.Context, k relay.Key, on bool) (*relay.Stream, error) {
	if !h.Ready() {
		return nil, ErrNotReady // still activating: the plan retries
	}
	pid, err := h.streamPID(ctx, k, on)
	if err != nil || pid == nil {
		return nil, err
	}
	reply := make(chan stream.OpenResult, 1)
	h.engine.Send(pid, &stream.Hold{On: on, Reply: reply})
	if !on {
		// Letting go needs no answer, and when the shard stops the stream
		// actor may be gone already: waiting would stall the handover.
		return nil, nil
	}
	select {
	case r := <-reply:
		return r.Stream, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// channels is the device's channel count (0: no such device here).
func (h *Host) channels(ctx context.Context, deviceID string) int {
	pid := h.devicePID(deviceID)
	if pid == nil {
		return 0
	}
	reply := make(chan device.TargetInfo, 1)
	h.engine.Send(pid, &device.Target{Reply: reply})
	select {
	case t := <-reply:
		if !t.Found {
			return 0
		}
		return t.Channels
	case <-ctx.Done():
		return 0
	}
}

func (h *Host) planPID(ctx context.Context, id string, create bool) (*actor.PID, error) {
	if v, ok := h.plans.Load(id); ok {
		return v.(*actor.PID), nil
	}
	if !create {
		return nil, nil
	}
	dev, _, _ := events.ParseChannelID(id)
	spid := h.running[events.ShardOf(dev, h.shards)].Load()
	if spid == nil {
		return nil, ErrNotReady
	}
	reply := make(chan *actor.PID, 1)
	h.engine.Send(spid, &spawnPlan{id: id, reply: reply})
	select {
	case pid := <-reply:
		return pid, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// AskPlan routes SetPlan/GetPlan to the channel's plan actor, wherever it
// runs.
func (h *Host) AskPlan(ctx context.Context, deviceID string, channel int, cmd proto.Message) (*pb.PlanReply, error) {
	if !events.ValidID(deviceID) || channel < 1 || channel > events.MaxChannels {
		return nil, events.ErrInvalidID
	}
	r, err := h.route(ctx, events.ShardOf(deviceID, h.shards), cmd, func(ctx context.Context) (proto.Message, error) {
		return h.askPlanLocal(ctx, deviceID, channel, cmd)
	})
	if err != nil {
		return nil, err
	}
	pr, ok := r.(*pb.PlanReply)
	if !ok {
		return nil, fmt.Errorf("shard: unexpected reply %T", r)
	}
	return pr, nil
}

// askPlanLocal asks the plan actor on this node (its shard is active here).
func (h *Host) askPlanLocal(ctx context.Context, deviceID string, channel int, cmd proto.Message) (*pb.PlanReply, error) {
	if !h.Owns(events.ShardOf(deviceID, h.shards)) {
		return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "shard not active on this node"}, nil
	}
	if n := h.channels(ctx, deviceID); n == 0 {
		return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such device"}, nil
	} else if channel > n {
		return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Field: "channel", Detail: "the device has fewer channels"}, nil
	}
	_, isSet := cmd.(*pb.SetPlan)
	pid, err := h.planPID(ctx, events.ChannelID(deviceID, channel), isSet)
	if err != nil {
		return nil, err
	}
	if pid == nil {
		return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no recording plan for this channel"}, nil
	}
	reply := make(chan *pb.PlanReply, 1)
	h.engine.Send(pid, &plan.Ask{Cmd: cmd, Reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// PlanSegments lists a channel's recorded segments overlapping [from, to).
func (h *Host) PlanSegments(ctx context.Context, deviceID string, channel int, from, to time.Time) ([]plan.Segment, error) {
	pid, err := h.planPID(ctx, events.ChannelID(deviceID, channel), false)
	if err != nil || pid == nil {
		return nil, err
	}
	reply := make(chan []plan.Segment, 1)
	h.engine.Send(pid, &plan.Segments{From: from, To: to, Reply: reply})
	select {
	case s := <-reply:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Recovered hands a segment finalized after a crash to its plan, which
// records it (keys start with the plan id: "<device>~<channel>/…").
func (h *Host) Recovered(ctx context.Context, seg record.Segment) error {
	id, _, _ := strings.Cut(seg.Key, "/")
	if _, _, ok := events.ParseChannelID(id); !ok {
		return events.ErrInvalidID
	}
	pid, err := h.planPID(ctx, id, true)
	if err != nil {
		return err
	}
	h.engine.Send(pid, &plan.Recovered{Segment: seg})
	return nil
}

// RemovedPartial records that a crash left an unplayable partial segment,
// which recovery deleted.
func (h *Host) RemovedPartial(ctx context.Context, key string) error {
	id, _, _ := strings.Cut(key, "/")
	if _, _, ok := events.ParseChannelID(id); !ok {
		return events.ErrInvalidID
	}
	pid, err := h.planPID(ctx, id, true)
	if err != nil {
		return err
	}
	h.engine.Send(pid, &plan.RemovedPartial{Key: key})
	return nil
}

// stopDevicePlans ends the recordings of a removed device.
func (h *Host) stopDevicePlans(deviceID string) {
	for ch := 1; ch <= events.MaxChannels; ch++ {
		if v, ok := h.plans.Load(events.ChannelID(deviceID, ch)); ok {
			h.engine.Send(v.(*actor.PID), &plan.Stop{Reason: "device removed"})
		}
	}
}

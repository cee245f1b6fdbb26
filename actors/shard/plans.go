package shard

import (
	"context"
	"errors"
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

// PlanSegments lists a channel's recorded segments overlapping [from, to)
// from the segment index: on any node, with ClickHouse down.
func (h *Host) PlanSegments(ctx context.Context, deviceID string, channel int, from, to time.Time) ([]events.IndexedSegment, error) {
	if h.pdeps.Index == nil {
		return nil, errNoIndex
	}
	return h.pdeps.Index.Range(ctx, h.planRef(deviceID, channel), from, to)
}

func (h *Host) planRef(deviceID string, channel int) events.Ref {
	return events.Ref{Shard: events.ShardOf(deviceID, h.shards), Kind: events.KindPlan, ID: events.ChannelID(deviceID, channel)}
}

// Recovered indexes a segment finalized after a crash (keys start with the
// plan id: "<device>~<channel>/…"), whichever node owns its shard now.
func (h *Host) Recovered(ctx context.Context, seg record.Segment) error {
	ref, err := h.segmentPlan(seg.Key)
	if err != nil {
		return err
	}
	_, err = h.pdeps.Index.Record(ctx, ref, plan.SegmentRecorded(ref, h.deps.Node, seg, true))
	return err
}

// RemovedPartial records that a crash left an unplayable partial segment,
// which recovery deleted (a fact for the recordings history; it was never
// indexed).
func (h *Host) RemovedPartial(ctx context.Context, key string) error {
	ref, err := h.segmentPlan(key)
	if err != nil {
		return err
	}
	start, _ := record.SegmentStart(key)
	return h.pdeps.Index.Delete(ctx, ref, plan.SegmentDeleted(ref, h.deps.Node, key, "unplayable partial", start.UnixMilli()), 0)
}

var errNoIndex = errors.New("shard: no segment index")

// segmentPlan is the plan a segment key belongs to.
func (h *Host) segmentPlan(key string) (events.Ref, error) {
	id, _, _ := strings.Cut(key, "/")
	dev, ch, ok := events.ParseChannelID(id)
	if !ok {
		return events.Ref{}, events.ErrInvalidID
	}
	if h.pdeps.Index == nil {
		return events.Ref{}, errNoIndex
	}
	return h.planRef(dev, ch), nil
}

// stopDevicePlans ends the recordings of a removed device.
func (h *Host) stopDevicePlans(deviceID string) {
	for ch := 1; ch <= events.MaxChannels; ch++ {
		if v, ok := h.plans.Load(events.ChannelID(deviceID, ch)); ok {
			h.engine.Send(v.(*actor.PID), &plan.Stop{Reason: "device removed"})
		}
	}
}

package shard

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/events"
)

// spawnStream asks a shard actor to start (or find) a stream actor.
type spawnStream struct {
	key   relay.Key
	reply chan *actor.PID
}

// devicePID is the running device actor on this node, or nil.
func (h *Host) devicePID(id string) *actor.PID {
	if v, ok := h.routes.Load(id); ok {
		return v.(*actor.PID)
	}
	return nil
}

// streamPID returns the stream actor of a device channel, spawning it in the
// device's shard when create is set.
func (h *Host) streamPID(ctx context.Context, k relay.Key, create bool) (*actor.PID, error) {
	id := events.ChannelID(k.Device, k.Channel)
	if v, ok := h.streams.Load(id); ok {
		return v.(*actor.PID), nil
	}
	if !create {
		return nil, nil
	}
	spid := h.running[events.ShardOf(k.Device, h.shards)].Load()
	if spid == nil {
		return nil, ErrNotReady
	}
	reply := make(chan *actor.PID, 1)
	h.engine.Send(spid, &spawnStream{key: k, reply: reply})
	select {
	case pid := <-reply:
		return pid, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// OpenStream is the relay's on-demand hook: it makes sure the device
// channel's stream actor runs a pull and returns its relay stream.
func (h *Host) OpenStream(ctx context.Context, k relay.Key) (*relay.Stream, error) {
	if !events.ValidID(k.Device) || k.Channel < 1 || k.Channel > events.MaxChannels {
		return nil, stream.ErrNoDevice
	}
	if !h.Ready() {
		return nil, ErrNotReady
	}
	if h.devicePID(k.Device) == nil {
		return nil, stream.ErrNoDevice
	}
	pid, err := h.streamPID(ctx, k, true)
	if err != nil {
		return nil, err
	}
	reply := make(chan stream.OpenResult, 1)
	h.engine.Send(pid, &stream.Open{Reply: reply})
	select {
	case r := <-reply:
		return r.Stream, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Streams lists this node's active streams (idle ones left out), by device
// and channel.
func (h *Host) Streams(ctx context.Context) ([]stream.Info, error) {
	var pids []*actor.PID
	h.streams.Range(func(_, v any) bool {
		pids = append(pids, v.(*actor.PID))
		return true
	})
	replies := make(chan stream.Info, len(pids))
	for _, pid := range pids {
		h.engine.Send(pid, &stream.GetInfo{Reply: replies})
	}
	var out []stream.Info
	deadline := time.After(2 * time.Second)
	for range pids {
		select {
		case i := <-replies:
			if i.State != "idle" {
				out = append(out, i)
			}
		case <-deadline:
			return out, errors.New("shard: some streams did not answer")
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Device != out[j].Device {
			return out[i].Device < out[j].Device
		}
		return out[i].Channel < out[j].Channel
	})
	return out, nil
}

// stopDeviceStreams ends every stream of a removed device.
func (h *Host) stopDeviceStreams(deviceID string) {
	for ch := 1; ch <= events.MaxChannels; ch++ {
		if v, ok := h.streams.Load(events.ChannelID(deviceID, ch)); ok {
			h.engine.Send(v.(*actor.PID), &stream.Stop{Reason: "device removed"})
		}
	}
}

package device

import (
	"context"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/events/pb"
)

// CameraWatch follows a camera's ONVIF events until ctx ends, calling fn
// for each, reconnecting by itself (actors/media/onvif.Watch, wired by the
// node).
type CameraWatch func(ctx context.Context, onvifURL, username, password string, fn func(CameraEvent))

// CameraEvent is one event a camera reported: kind motion, tamper, input
// (others are not recorded), the topic, the source token and the state
// when the event carries one.
type CameraEvent struct {
	Kind, Topic, Source string
	State               *bool
	Time                time.Time
}

// cameraEventMsg carries a CameraEvent from the watch to its actor; gen
// tells a stopped watch's late events apart.
type cameraEventMsg struct {
	gen int
	ev  CameraEvent
}

// watch is the actor's running camera event watch.
type watch struct {
	cancel context.CancelFunc
	of     [3]string // the address, username and sealed password it follows
	gen    int
}

// syncWatch starts, restarts or stops the camera event watch so that it
// follows the device's current ONVIF address and credentials, while the
// device is registered here.
func (a *Actor) syncWatch(c *actor.Context) {
	want := a.deps.CameraWatch != nil && a.state.Registered && a.state.Onvif != ""
	if !want && a.watch.cancel == nil {
		return // the common case, after every command: nothing to follow
	}
	of := [3]string{a.state.Onvif, a.state.Username, string(a.state.SealedPassword)}
	if a.watch.cancel != nil && (!want || a.watch.of != of) {
		a.watch.cancel()
		a.watch.cancel = nil
	}
	if !want || a.watch.cancel != nil {
		return
	}
	password, err := a.deps.Sealer.Open(a.state.SealedPassword)
	if err != nil {
		a.log().Warn("cannot open the device's password", "device", a.ref.ID, "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.watch.gen++
	a.watch.cancel, a.watch.of = cancel, of
	engine, self, gen, watchFn := c.Engine(), c.PID(), a.watch.gen, a.deps.CameraWatch
	url, user := a.state.Onvif, a.state.Username
	go watchFn(ctx, url, user, password, func(ev CameraEvent) {
		engine.Send(self, cameraEventMsg{gen: gen, ev: ev})
	})
}

func (a *Actor) stopWatch() {
	if a.watch.cancel != nil {
		a.watch.cancel()
		a.watch.cancel = nil
	}
}

// cameraStateKey is the key of a kind and source in State.CameraStates.
func cameraStateKey(kind, source string) string { return kind + "/" + source }

// DecideCameraEvent records what a camera reported: a motion, tamper or
// input event whose state differs from the one last recorded for its
// source (or that carries none).
func DecideCameraEvent(s *State, ev CameraEvent) *pb.Envelope {
	if !s.Registered {
		return nil
	}
	switch ev.Kind {
	case "motion", "tamper", "input":
	default:
		return nil
	}
	if ev.State != nil {
		if last, ok := s.CameraStates[cameraStateKey(ev.Kind, ev.Source)]; ok && last == *ev.State {
			return nil
		}
	}
	ch := uint32(0)
	for i, src := range s.Sources {
		if ev.Source != "" && (src.VideoSource == ev.Source || src.SourceConfig == ev.Source || src.Profile == ev.Source) {
			ch = uint32(i + 1)
		}
	}
	if ch == 0 && len(s.Sources) == 1 {
		ch = 1
	}
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	return &pb.Envelope{Payload: &pb.Envelope_DeviceCameraEvent{DeviceCameraEvent: &pb.DeviceCameraEvent{
		Kind: ev.Kind, Topic: ev.Topic, Source: ev.Source, State: ev.State, TimeUnixMs: t.UnixMilli(), Channel: ch}}}
}

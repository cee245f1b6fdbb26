package device

import (
	"context"
	"fmt"
	"time"

	"github.com/argus-vms/argus/actors/media/motion"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// Argus's own motion detection: a channel with it enabled runs a detector
// while its device is hosted here (Deps.Motion holds the stream and decodes
// it), raising a "video_motion" alarm when motion starts and ending it when
// motion stops.

// MotionType is the alarm type of Argus's motion detection (a camera's own
// motion events are "motion").
const MotionType = "video_motion"

// MotionWatch detects motion on a device channel until ctx ends (the host's
// WatchMotion).
type MotionWatch func(ctx context.Context, device string, channel int, cfg motion.Config, fn func(motion.Event))

// MotionConfig is the detector's form of a channel's settings.
func MotionConfig(m *pb.DeviceMotionSet) motion.Config {
	c := motion.Config{Sensitivity: m.Sensitivity, MinDuration: time.Duration(m.MinDurationMs) * time.Millisecond,
		Cooldown: time.Duration(m.CooldownMs) * time.Millisecond}
	for _, z := range m.Zones {
		c.Zones = append(c.Zones, [4]float64{z.X, z.Y, z.W, z.H})
	}
	return c
}

// DecideMotion sets a channel's motion detection (the same again: nothing).
func DecideMotion(s *State, m *pb.SetMotion) (*pb.Envelope, *Rejection) {
	set := m.GetMotion()
	switch {
	case !s.Registered:
		return nil, &Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such device"}
	case set == nil:
		return nil, invalid("body", "motion settings are required")
	case set.Channel < 1 || set.Channel > s.Channels:
		return nil, &Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Field: "ch", Detail: fmt.Sprintf("the device has channels 1..%d", s.Channels)}
	}
	if field, err := MotionConfig(set).Validate(); err != nil {
		return nil, invalid(field, "%v", err)
	}
	if old := s.Motion[set.Channel]; old != nil && proto.Equal(old, set) {
		return nil, nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_DeviceMotionSet{DeviceMotionSet: set}}, nil
}

// detector is one channel's running detection.
type detector struct {
	cancel context.CancelFunc
	of     *pb.DeviceMotionSet
}

// syncMotion runs a detector for every enabled channel of the device,
// restarting one whose settings changed, stopping those no longer wanted.
func (a *Actor) syncMotion() {
	if a.deps.Motion == nil || (len(a.motion) == 0 && len(a.state.Motion) == 0) {
		return
	}
	if a.motion == nil {
		a.motion = map[uint32]*detector{}
	}
	for ch, d := range a.motion {
		if want := a.state.Motion[ch]; !a.state.Registered || want == nil || !want.Enabled || want != d.of {
			d.cancel()
			delete(a.motion, ch)
		}
	}
	if !a.state.Registered || a.self == nil {
		return
	}
	for ch, set := range a.state.Motion {
		if !set.Enabled || a.motion[ch] != nil || ch > a.state.Channels {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		a.motion[ch] = &detector{cancel: cancel, of: set}
		dev, watch, alarm := a.ref.ID, a.deps.Motion, a.deps.Alarm
		slot := events.AlarmSlot{Device: dev, Channel: int(ch), Type: MotionType}
		go watch(ctx, dev, int(ch), MotionConfig(set), func(ev motion.Event) {
			if alarm == nil {
				return
			}
			if ev.Start {
				alarm(&pb.RaiseAlarm{Device: dev, Channel: ch, Type: MotionType, Source: "motion", AtUnixMs: ev.Time.UnixMilli(),
					Message: fmt.Sprintf("motion in %.0f%% of the picture at (%.2f, %.2f)", ev.Score*100, ev.Box[0], ev.Box[1])})
			} else {
				alarm(&pb.EndAlarm{Slot: slot.ID(), AtUnixMs: ev.Time.UnixMilli()})
			}
		})
	}
}

func (a *Actor) stopMotion() {
	for ch, d := range a.motion {
		d.cancel()
		delete(a.motion, ch)
	}
}

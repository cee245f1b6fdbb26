package device

import (
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// The device's own alarms: what its camera reports (motion, tamper,
// input) and the system's "offline" when it stays offline too long. They
// are raised from applied events, so a replayed history raises nothing.

// offlineTimer fires once the device has been offline for the threshold.
type offlineTimer struct {
	t     *time.Timer
	gen   int
	since int64 // the offline event's time it waits on
}

// offlineDue: the device has been offline for the threshold (if gen is
// still the timer's).
type offlineDue struct {
	gen   int
	since int64
}

func (o *offlineTimer) stop() {
	if o.t != nil {
		o.t.Stop()
		o.t = nil
	}
	o.gen++
}

// armOffline arms the timer when the device is offline (at start, too: a
// device that went offline on another node keeps its deadline).
func (a *Actor) armOffline() {
	a.offline.stop()
	if a.deps.Alarm == nil || a.deps.OfflineAlarmAfter <= 0 || !a.state.Registered || a.state.Status != StatusOffline || a.self == nil {
		return
	}
	due := time.UnixMilli(a.state.StatusAt).Add(a.deps.OfflineAlarmAfter)
	engine, self, msg := a.engine, a.self, offlineDue{gen: a.offline.gen, since: a.state.StatusAt}
	a.offline.since = a.state.StatusAt
	a.offline.t = time.AfterFunc(max(time.Until(due), 0), func() { engine.Send(self, msg) })
}

func (a *Actor) offlineDue(m offlineDue) {
	if m.gen != a.offline.gen || a.state.Status != StatusOffline || a.state.StatusAt != m.since {
		return
	}
	a.deps.Alarm(&pb.RaiseAlarm{Device: a.ref.ID, Type: "offline", Source: "system",
		Message: "offline since " + time.UnixMilli(m.since).UTC().Format(time.RFC3339), AtUnixMs: time.Now().UnixMilli()})
}

// alarmOn raises or ends the alarms an event of this device means
// (wasOffline, since: the status before it).
func (a *Actor) alarmOn(e events.Event, wasOffline bool, since int64) {
	if a.deps.Alarm == nil {
		return
	}
	switch p := e.Envelope.Payload.(type) {
	case *pb.Envelope_DeviceCameraEvent:
		ce := p.DeviceCameraEvent
		if ce.State != nil && !*ce.State {
			slot := events.AlarmSlot{Device: a.ref.ID, Channel: int(ce.Channel), Type: ce.Kind}
			a.deps.Alarm(&pb.EndAlarm{Slot: slot.ID(), AtUnixMs: ce.TimeUnixMs})
			return
		}
		a.raiseCamera(CameraTrigger{Event: e.Envelope.EventId, Kind: ce.Kind, Channel: ce.Channel, Topic: ce.Topic, AtUnixMs: ce.TimeUnixMs})
	case *pb.Envelope_DeviceOnline:
		a.offline.stop()
		// Only an outage long enough to have raised the alarm clears one (a
		// second's margin for the clocks of the nodes that saw both ends).
		if after := a.deps.OfflineAlarmAfter; wasOffline && after > 0 && e.Envelope.TimeUnixMs-since >= (after-time.Second).Milliseconds() {
			slot := events.AlarmSlot{Device: a.ref.ID, Type: "offline"}
			a.deps.Alarm(&pb.EndAlarm{Slot: slot.ID(), AtUnixMs: e.Envelope.TimeUnixMs, Clear: true, Reason: "back online"})
		}
	case *pb.Envelope_DeviceOffline:
		a.armOffline()
	}
}

func (a *Actor) raiseCamera(t CameraTrigger) {
	a.deps.Alarm(&pb.RaiseAlarm{Device: a.ref.ID, Channel: t.Channel, Type: t.Kind, Source: "camera",
		Message: t.Topic, AtUnixMs: t.AtUnixMs, Trigger: t.Event})
}

// raiseCameraOn raises, as the device's actor starts, the alarms of camera
// events still on: their slots drop those they have already (same
// trigger), so only an alarm lost with a node that died is raised.
func (a *Actor) raiseCameraOn() {
	if a.deps.Alarm == nil || !a.state.Registered {
		return
	}
	for _, t := range a.state.CameraOn {
		a.raiseCamera(t)
	}
}

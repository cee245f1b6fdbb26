// Package alarm is the alarm aggregate: one per slot (a device channel and
// an alarm type), in the device's shard. A slot has at most one open alarm;
// its actor raises, repeats, ends, acknowledges and clears it, and stores a
// picture of the channel at the raise. Its state is the open alarm and the
// last closed one: bounded however many alarms the slot had (older ones
// live in the argus.alarms projection).
package alarm

import (
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Alarm states.
const (
	Raised       = "raised"
	Acknowledged = "acknowledged"
	Cleared      = "cleared"
)

// Alarm is one occurrence of a slot, as its events left it.
type Alarm struct {
	Number      uint32
	Source      string
	Severity    string
	Message     string
	State       string
	Active      bool
	RaisedAt    int64 // unix ms
	LastAt      int64
	EndedAt     int64
	Count       uint32
	Trigger     string
	RaisedBy    string
	AckedBy     string
	AckedAt     int64
	Note        string
	ClearedBy   string
	ClearedAt   int64
	ClearReason string
	SnapshotKey string
	LastSeq     uint64
}

// Open reports whether the alarm still waits for a clear.
func (a *Alarm) Open() bool { return a != nil && a.State != Cleared }

// Fold applies one of the alarm's own events (its number's); it is the
// one fold of an alarm, used by the slot's state and by the projection.
func (a *Alarm) Fold(e events.Event) {
	env := e.Envelope
	a.LastSeq = e.Seq
	switch p := env.Payload.(type) {
	case *pb.Envelope_AlarmRaised:
		r := p.AlarmRaised
		*a = Alarm{Number: r.Number, Source: r.Source, Severity: r.Severity, Message: r.Message, State: Raised,
			Active: true, RaisedAt: at(r.AtUnixMs, env), LastAt: at(r.AtUnixMs, env), Count: 1, Trigger: r.Trigger,
			RaisedBy: r.RaisedBy, LastSeq: e.Seq}
	case *pb.Envelope_AlarmRepeated:
		r := p.AlarmRepeated
		a.Count, a.LastAt, a.Active, a.EndedAt = r.Count, at(r.AtUnixMs, env), true, 0
		if r.Message != "" {
			a.Message = r.Message
		}
		if r.Severity != "" {
			a.Severity = r.Severity
		}
		if r.Trigger != "" {
			a.Trigger = r.Trigger
		}
	case *pb.Envelope_AlarmEnded:
		a.Active, a.EndedAt = false, at(p.AlarmEnded.AtUnixMs, env)
	case *pb.Envelope_AlarmAcknowledged:
		a.State, a.AckedBy, a.AckedAt, a.Note = Acknowledged, p.AlarmAcknowledged.By, env.TimeUnixMs, p.AlarmAcknowledged.Note
	case *pb.Envelope_AlarmCleared:
		a.State, a.ClearedBy, a.ClearedAt, a.ClearReason = Cleared, p.AlarmCleared.By, env.TimeUnixMs, p.AlarmCleared.Reason
		if a.Active {
			a.Active, a.EndedAt = false, env.TimeUnixMs
		}
	case *pb.Envelope_AlarmSnapshotTaken:
		a.SnapshotKey = p.AlarmSnapshotTaken.Key
	}
}

// at is an event's own time of the condition, else the time it was recorded.
func at(ms int64, env *pb.Envelope) int64 {
	if ms > 0 {
		return ms
	}
	return env.TimeUnixMs
}

// NumberOf is the alarm number an alarm event is about (0: not an alarm event).
func NumberOf(env *pb.Envelope) uint32 {
	switch p := env.Payload.(type) {
	case *pb.Envelope_AlarmRaised:
		return p.AlarmRaised.Number
	case *pb.Envelope_AlarmRepeated:
		return p.AlarmRepeated.Number
	case *pb.Envelope_AlarmEnded:
		return p.AlarmEnded.Number
	case *pb.Envelope_AlarmAcknowledged:
		return p.AlarmAcknowledged.Number
	case *pb.Envelope_AlarmCleared:
		return p.AlarmCleared.Number
	case *pb.Envelope_AlarmSnapshotTaken:
		return p.AlarmSnapshotTaken.Number
	}
	return 0
}

// State is a slot as its events left it.
type State struct {
	Slot    events.AlarmSlot
	Current *Alarm `json:",omitempty"` // the newest alarm: open, or the last cleared one
	Version uint64
	LastSeq uint64
}

// Apply folds one event of the slot.
// AppliedSeq is the log sequence of the last event folded in.
func (s *State) AppliedSeq() uint64 { return s.LastSeq }

func (s *State) Apply(e events.Event) {
	s.Version, s.LastSeq = e.Envelope.Version, e.Seq
	if slot, ok := events.ParseAlarmSlot(e.Envelope.AggregateId); ok {
		s.Slot = slot
	}
	n := NumberOf(e.Envelope)
	if n == 0 {
		return
	}
	if _, raised := e.Envelope.Payload.(*pb.Envelope_AlarmRaised); raised {
		s.Current = &Alarm{}
	} else if s.Current == nil || s.Current.Number != n {
		return // about an older alarm: the projection has it
	}
	// A new value, so views already handed out never change.
	next := *s.Current
	next.Fold(e)
	s.Current = &next
}

// Open is the slot's open alarm, nil when there is none.
func (s *State) Open() *Alarm {
	if s.Current.Open() {
		return s.Current
	}
	return nil
}

// View is how the API shows an alarm of the slot.
func View(slot events.AlarmSlot, a *Alarm) *pb.AlarmView {
	if a == nil {
		return nil
	}
	return &pb.AlarmView{Id: slot.AlarmID(a.Number), Device: slot.Device, Channel: uint32(slot.Channel), Type: slot.Type,
		Source: a.Source, Severity: a.Severity, Message: a.Message, State: a.State, Active: a.Active,
		RaisedAtUnixMs: a.RaisedAt, LastAtUnixMs: a.LastAt, Count: a.Count, AckedBy: a.AckedBy, AckedAtUnixMs: a.AckedAt,
		ClearedBy: a.ClearedBy, ClearedAtUnixMs: a.ClearedAt, SnapshotKey: a.SnapshotKey, RaisedBy: a.RaisedBy,
		Trigger: a.Trigger, EndedAtUnixMs: a.EndedAt, Note: a.Note, ClearReason: a.ClearReason, Seq: a.LastSeq}
}

// FromView is the alarm a view shows (the projection reloads its rows so).
func FromView(v *pb.AlarmView) Alarm {
	_, n, _ := events.ParseAlarmID(v.Id)
	return Alarm{Number: n, Source: v.Source, Severity: v.Severity, Message: v.Message, State: v.State, Active: v.Active,
		RaisedAt: v.RaisedAtUnixMs, LastAt: v.LastAtUnixMs, EndedAt: v.EndedAtUnixMs, Count: v.Count, Trigger: v.Trigger,
		RaisedBy: v.RaisedBy, AckedBy: v.AckedBy, AckedAt: v.AckedAtUnixMs, Note: v.Note, ClearedBy: v.ClearedBy,
		ClearedAt: v.ClearedAtUnixMs, ClearReason: v.ClearReason, SnapshotKey: v.SnapshotKey, LastSeq: v.Seq}
}

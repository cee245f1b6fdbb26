package alarm

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Sources of alarms.
const (
	SourceCamera = "camera" // the camera's own events (ONVIF)
	SourceMotion = "motion" // Argus's motion detection
	SourceSystem = "system" // Argus's own checks: offline, recording, storage
	SourceAPI    = "api"    // an external system through POST /v1/alarms
)

// Severities, lowest first.
var Severities = []string{"info", "minor", "major", "critical"}

// Sources lists the valid sources.
var Sources = []string{SourceCamera, SourceMotion, SourceSystem, SourceAPI}

// MaxMessage bounds an alarm's message (characters).
const MaxMessage = 500

// DefaultSeverity is a type's severity when the trigger names none.
func DefaultSeverity(typ string) string {
	switch typ {
	case "tamper", "offline", "recording":
		return "major"
	case "storage":
		return "critical"
	}
	return "minor"
}

func rank(severity string) int { return slices.Index(Severities, severity) }

func invalid(field, format string, a ...any) *aggregate.Rejection {
	return &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: field, Detail: fmt.Sprintf(format, a...)}
}

// CheckRaise validates a raise (the gateway checks the same first, for
// precise 400s; the aggregate is the authority).
func CheckRaise(m *pb.RaiseAlarm) *aggregate.Rejection {
	switch {
	case !events.ValidID(m.Device):
		return invalid("device", "device %s", events.IDRule)
	case m.Channel > events.MaxChannels:
		return invalid("channel", "channel must be 0..%d", events.MaxChannels)
	case !events.ValidAlarmType(m.Type):
		return invalid("type", "type %s", events.AlarmTypeRule)
	case !slices.Contains(Sources, m.Source):
		return invalid("source", "source must be one of %v", Sources)
	case m.Severity != "" && rank(m.Severity) < 0:
		return invalid("severity", "severity must be one of %v", Severities)
	case utf8.RuneCountInString(m.Message) > MaxMessage || !utf8.ValidString(m.Message):
		return invalid("message", "message must be valid UTF-8 of at most %d characters", MaxMessage)
	}
	return nil
}

// DecideRaise raises the slot's next alarm, or repeats the open one.
func DecideRaise(s *State, m *pb.RaiseAlarm) (*pb.Envelope, *aggregate.Rejection) {
	if r := CheckRaise(m); r != nil {
		return nil, r
	}
	severity := m.Severity
	if severity == "" {
		severity = DefaultSeverity(m.Type)
	}
	if cur := s.Current; cur != nil && m.Trigger != "" && cur.Trigger == m.Trigger {
		return nil, nil // this trigger was recorded already (raised again by a node taking over)
	}
	if open := s.Open(); open != nil {
		if m.Source == SourceSystem {
			return nil, nil // a condition that holds is one alarm (a node that took the shard over checks again)
		}
		rep := &pb.AlarmRepeated{Number: open.Number, Count: open.Count + 1, AtUnixMs: m.AtUnixMs, Message: m.Message, Trigger: m.Trigger}
		if rank(severity) > rank(open.Severity) {
			rep.Severity = severity
		}
		return &pb.Envelope{Payload: &pb.Envelope_AlarmRepeated{AlarmRepeated: rep}}, nil
	}
	var n uint32 = 1
	if s.Current != nil {
		n = s.Current.Number + 1
	}
	return &pb.Envelope{Payload: &pb.Envelope_AlarmRaised{AlarmRaised: &pb.AlarmRaised{
		Device: m.Device, Channel: m.Channel, Type: m.Type, Number: n, Source: m.Source, Severity: severity,
		Message: m.Message, AtUnixMs: m.AtUnixMs, Trigger: m.Trigger, RaisedBy: m.By}}}, nil
}

// DecideEnd records that the slot's condition is over; with clear (system
// conditions, such as a device back online) it also clears the alarm.
// Nothing is open: nothing to record.
func DecideEnd(s *State, m *pb.EndAlarm) *pb.Envelope {
	open := s.Open()
	switch {
	case open == nil:
		return nil
	case m.Clear:
		return &pb.Envelope{Payload: &pb.Envelope_AlarmCleared{AlarmCleared: &pb.AlarmCleared{Number: open.Number, By: "system", Reason: m.Reason}}}
	case open.Active:
		return &pb.Envelope{Payload: &pb.Envelope_AlarmEnded{AlarmEnded: &pb.AlarmEnded{Number: open.Number, AtUnixMs: m.AtUnixMs}}}
	}
	return nil
}

// find is the slot's alarm number n: only the newest is held here.
func find(s *State, n uint32) (*Alarm, *aggregate.Rejection) {
	if s.Current == nil || n > s.Current.Number {
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such alarm"}
	}
	if n < s.Current.Number {
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "the alarm is cleared (a newer alarm of its slot was raised since)"}
	}
	return s.Current, nil
}

// DecideAck acknowledges alarm n (again: nothing).
func DecideAck(s *State, n uint32, m *pb.AckAlarm) (*pb.Envelope, *aggregate.Rejection) {
	a, rej := find(s, n)
	switch {
	case rej != nil:
		return nil, rej
	case utf8.RuneCountInString(m.Note) > MaxMessage || !utf8.ValidString(m.Note):
		return nil, invalid("note", "note must be valid UTF-8 of at most %d characters", MaxMessage)
	case a.State == Cleared:
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "the alarm is cleared"}
	case a.State == Acknowledged:
		return nil, nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_AlarmAcknowledged{AlarmAcknowledged: &pb.AlarmAcknowledged{Number: n, By: m.By, Note: m.Note}}}, nil
}

// DecideClear clears alarm n (again: nothing).
func DecideClear(s *State, n uint32, m *pb.ClearAlarm) (*pb.Envelope, *aggregate.Rejection) {
	a, rej := find(s, n)
	switch {
	case rej != nil:
		return nil, rej
	case utf8.RuneCountInString(m.Reason) > MaxMessage || !utf8.ValidString(m.Reason):
		return nil, invalid("reason", "reason must be valid UTF-8 of at most %d characters", MaxMessage)
	case a.State == Cleared:
		return nil, nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_AlarmCleared{AlarmCleared: &pb.AlarmCleared{Number: n, By: m.By, Reason: m.Reason}}}, nil
}

// DecideSnapshot records the stored picture of alarm n.
func DecideSnapshot(s *State, n uint32, key string) *pb.Envelope {
	if s.Current == nil || s.Current.Number != n || s.Current.SnapshotKey != "" {
		return nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_AlarmSnapshotTaken{AlarmSnapshotTaken: &pb.AlarmSnapshotTaken{Number: n, Key: key}}}
}

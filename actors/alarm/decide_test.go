package alarm

import (
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// fold applies a decision's event as the log would.
func fold(t *testing.T, s *State, env *pb.Envelope) {
	t.Helper()
	if env == nil {
		t.Fatal("no event")
	}
	env.AggregateId, env.Version, env.TimeUnixMs = s.Slot.ID(), s.Version+1, 1000+int64(s.Version)
	s.Apply(events.Event{Seq: s.LastSeq + 10, Envelope: env})
}

func TestDecisions(t *testing.T) {
	s := &State{Slot: events.AlarmSlot{Device: "cam", Channel: 1, Type: "motion"}}
	raise := &pb.RaiseAlarm{Device: "cam", Channel: 1, Type: "motion", Source: SourceCamera}
	for _, bad := range []struct {
		m     *pb.RaiseAlarm
		field string
	}{
		{&pb.RaiseAlarm{Device: "Cam", Type: "motion", Source: SourceAPI}, "device"},
		{&pb.RaiseAlarm{Device: "cam", Channel: 65, Type: "motion", Source: SourceAPI}, "channel"},
		{&pb.RaiseAlarm{Device: "cam", Type: "9", Source: SourceAPI}, "type"},
		{&pb.RaiseAlarm{Device: "cam", Type: "motion", Source: "x"}, "source"},
		{&pb.RaiseAlarm{Device: "cam", Type: "motion", Source: SourceAPI, Severity: "loud"}, "severity"},
		{&pb.RaiseAlarm{Device: "cam", Type: "motion", Source: SourceAPI, Message: "\xff"}, "message"},
	} {
		if _, rej := DecideRaise(s, bad.m); rej == nil || rej.Field != bad.field {
			t.Errorf("%+v: %v, want field %s", bad.m, rej, bad.field)
		}
	}
	env, _ := DecideRaise(s, raise)
	fold(t, s, env)
	if a := s.Open(); a == nil || a.Number != 1 || a.Severity != "minor" || !a.Active || a.Count != 1 {
		t.Fatalf("raised: %+v", s.Current)
	}
	env, _ = DecideRaise(s, &pb.RaiseAlarm{Device: "cam", Channel: 1, Type: "motion", Source: SourceCamera, Severity: "info"})
	fold(t, s, env)
	if a := s.Open(); a.Count != 2 || a.Severity != "minor" {
		t.Fatalf("a repeat never lowers the severity: %+v", a)
	}
	fold(t, s, DecideEnd(s, &pb.EndAlarm{}))
	if s.Open().Active || DecideEnd(s, &pb.EndAlarm{}) != nil {
		t.Fatal("ended once")
	}
	env, _ = DecideAck(s, 1, &pb.AckAlarm{By: "k"})
	fold(t, s, env)
	if env, rej := DecideAck(s, 1, &pb.AckAlarm{By: "k"}); env != nil || rej != nil {
		t.Fatal("acknowledged twice")
	}
	if _, rej := DecideAck(s, 2, &pb.AckAlarm{}); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("a future alarm: %v", rej)
	}
	env, _ = DecideClear(s, 1, &pb.ClearAlarm{By: "k"})
	fold(t, s, env)
	if s.Open() != nil || s.Current.State != Cleared {
		t.Fatalf("cleared: %+v", s.Current)
	}
	env, _ = DecideRaise(s, raise)
	fold(t, s, env)
	if s.Open().Number != 2 {
		t.Fatal("the next raise is the slot's next alarm")
	}
	if _, rej := DecideClear(s, 1, &pb.ClearAlarm{}); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_CONFLICT {
		t.Fatalf("an older alarm: %v", rej)
	}
	// A system condition that holds is one alarm.
	sys := &State{Slot: events.AlarmSlot{Device: "cam", Type: "offline"}}
	env, _ = DecideRaise(sys, &pb.RaiseAlarm{Device: "cam", Type: "offline", Source: SourceSystem})
	fold(t, sys, env)
	if env, rej := DecideRaise(sys, &pb.RaiseAlarm{Device: "cam", Type: "offline", Source: SourceSystem}); env != nil || rej != nil {
		t.Fatal("a system alarm repeated")
	}
	if sys.Open().Severity != "major" {
		t.Fatalf("offline severity %s", sys.Open().Severity)
	}
	fold(t, sys, DecideEnd(sys, &pb.EndAlarm{Clear: true}))
	if sys.Current.State != Cleared || sys.Current.ClearedBy != "system" {
		t.Fatalf("system clear: %+v", sys.Current)
	}
}

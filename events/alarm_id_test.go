package events

import "testing"

func TestAlarmIDs(t *testing.T) {
	s := AlarmSlot{Device: "cam-1", Channel: 2, Type: "motion"}
	if s.ID() != "cam-1~2~motion" || s.AlarmID(7) != "cam-1~2~motion~7" {
		t.Fatalf("ids: %s %s", s.ID(), s.AlarmID(7))
	}
	got, n, ok := ParseAlarmID("cam-1~2~motion~7")
	if !ok || got != s || n != 7 {
		t.Fatalf("parse: %+v %d %v", got, n, ok)
	}
	if got, ok := ParseAlarmSlot("cam-1~0~offline"); !ok || got.Channel != 0 {
		t.Fatalf("channel 0: %+v %v", got, ok)
	}
	for _, bad := range []string{"", "cam-1", "cam-1~2", "cam-1~02~motion", "cam-1~65~motion", "cam-1~1~Motion",
		"cam-1~1~9x", "cam.1~1~motion", "cam-1~1~motion~x", "Cam~1~motion", "cam-1~1~mo.tion", "cam-1~1~motion>"} {
		if _, ok := ParseAlarmSlot(bad); ok {
			t.Errorf("slot %q accepted", bad)
		}
	}
	for _, bad := range []string{"cam-1~1~motion", "cam-1~1~motion~0", "cam-1~1~motion~01", "cam-1~1~motion~", "~1"} {
		if _, _, ok := ParseAlarmID(bad); ok {
			t.Errorf("alarm id %q accepted", bad)
		}
	}
	if !ValidAggregateID(KindAlarm, "cam-1~1~motion") || ValidAggregateID(KindAlarm, "cam-1~1") {
		t.Fatal("ValidAggregateID(alarm)")
	}
}

func TestDeviceOf(t *testing.T) {
	for _, c := range []struct{ kind, id, want string }{
		{"device", "cam-1", "cam-1"},
		{"device", "Bad", ""},
		{"stream", "cam-1~2", "cam-1"},
		{"plan", "cam-1~64", "cam-1"},
		{"view", "cam-1~65", ""},
		{"alarm", "cam-1~0~offline", "cam-1"},
		{"alarm", "cam-1~0", ""},
		{"shard", "12", ""},
	} {
		if got := DeviceOf(c.kind, c.id); got != c.want {
			t.Errorf("DeviceOf(%s, %s) = %q, want %q", c.kind, c.id, got, c.want)
		}
	}
}

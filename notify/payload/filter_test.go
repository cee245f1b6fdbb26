package payload

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "device.offline", true},
		{[]string{"*"}, "alarm.raised", true},
		{[]string{"device.offline"}, "device.offline", true},
		{[]string{"device.offline"}, "device.online", false},
		{[]string{"alarm.*"}, "alarm.raised", true},
		{[]string{"alarm.*"}, "alarms.raised", false},
		{[]string{"alarm.*"}, "alarm", false},
		{[]string{"device.offline", "alarm.*"}, "alarm.ended", true},
		{[]string{"device.offline", "alarm.*"}, "stream.started", false},
		{[]string{"alarm*"}, "alarm.raised", false}, // not a filter shape: never a prefix
	} {
		if got := Match(c.filter, c.typ); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.filter, c.typ, got)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for _, ok := range []string{"*", "alarm.*", "device.offline", "device.credentials_changed", "alarm", "x_y.z"} {
		if !ValidFilter(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", ".", "alarm.", ".x", "Alarm.raised", "alarm.*.x", "alarm.raised.x", "a*", "*.raised",
		"alarm.r*", "**", "alarm-1.x", "alarm.1", " alarm.raised", "alarm.raised>"} {
		if ValidFilter(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

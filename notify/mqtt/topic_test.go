package mqtt

import "testing"

func TestTopics(t *testing.T) {
	for got, want := range map[string]string{
		AlarmTopic("cam-1"):          "argus/alarms/cam-1",
		EventTopic("alarm.raised"):   "argus/events/alarm.raised",
		StatusTopic("cam-1"):         "argus/devices/cam-1/status",
		AlarmTopic("a/b+#"):          "argus/alarms/a_b__",
		StatusTopic(""):              "argus/devices/_/status",
		EventTopic("device.offline"): "argus/events/device.offline",
	} {
		if got != want {
			t.Errorf("topic %q, want %q", got, want)
		}
	}
	for _, bad := range []string{"", "argus/#", "argus/+/x", "a\x00b"} {
		if checkTopic(bad) == nil {
			t.Errorf("topic %q accepted", bad)
		}
	}
}

func TestBrokerURL(t *testing.T) {
	for _, c := range []struct{ url, user, wantURL, wantUser, wantPass string }{
		{"mqtt://broker", "", "mqtt://broker:1883", "", ""},
		{"mqtts://broker", "", "mqtts://broker:8883", "", ""},
		{"tls://broker:9999", "", "tls://broker:9999", "", ""},
		{"tcp://[::1]", "", "tcp://[::1]:1883", "", ""},
		{"mqtt://u:p@broker:1884/", "", "mqtt://broker:1884", "u", "p"},
		{"mqtt://u:p@broker", "opt", "mqtt://broker:1883", "opt", ""},
	} {
		u, user, pass, err := brokerURL(Options{URL: c.url, Username: c.user})
		if err != nil || u.String() != c.wantURL || user != c.wantUser || pass != c.wantPass {
			t.Errorf("%s: %v %q %q %v", c.url, u, user, pass, err)
		}
	}
	for _, bad := range []string{"", "broker:1883", "http://broker", "ws://broker", "mqtt://", "mqtt:///x"} {
		if _, _, _, err := brokerURL(Options{URL: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

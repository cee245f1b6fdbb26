package onvif

import (
	"net/url"
	"testing"
	"time"
)

func TestResolveXAddr(t *testing.T) {
	dev, _ := url.Parse("https://203.0.113.5:8443/onvif/device_service")
	for in, want := range map[string]string{
		"http://0.0.0.0/onvif/Media":                     "https://203.0.113.5:8443/onvif/Media",
		"http://0.0.0.0:80/onvif/Media":                  "https://203.0.113.5:8443/onvif/Media",
		"http://[::]:80/onvif/Media":                     "https://203.0.113.5:8443/onvif/Media",
		"http://:80/onvif/Media":                         "https://203.0.113.5:8443/onvif/Media",
		"http://192.168.1.64/onvif/Media":                "http://192.168.1.64/onvif/Media", // NAT: kept
		"/onvif/Events":                                  "https://203.0.113.5:8443/onvif/Events",
		" http://10.0.0.2/onvif/PTZ http://[fe80::1]/x ": "http://10.0.0.2/onvif/PTZ",
		"": "",
	} {
		if got := resolveXAddr(dev, in); got != want {
			t.Errorf("resolveXAddr(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"rtsp://0.0.0.0:554/live":    "rtsp://203.0.113.5:554/live",
		"rtsp://0.0.0.0/live":        "rtsp://203.0.113.5/live",
		"rtsp://192.168.1.64/live":   "rtsp://192.168.1.64/live",
		" rtsp://10.0.0.1:8554/a?b ": "rtsp://10.0.0.1:8554/a?b",
	} {
		if got := resolveMediaURI(dev, in); got != want {
			t.Errorf("resolveMediaURI(%q) = %q, want %q", in, got, want)
		}
	}
	v6, _ := url.Parse("http://[2001:db8::5]/onvif/device_service")
	if got := resolveMediaURI(v6, "rtsp://0.0.0.0/live"); got != "rtsp://[2001:db8::5]/live" {
		t.Errorf("IPv6 device: %s", got)
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Millisecond: "PT1.5S", time.Minute: "PT60S", 0: "PT0S", -2 * time.Second: "-PT2S",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %s", d, got)
		}
	}
	for in, want := range map[string]time.Duration{
		"PT1.5S": 1500 * time.Millisecond, "PT10M": 10 * time.Minute, "P1DT1H": 25 * time.Hour, "-PT5S": -5 * time.Second, "PT0S": 0,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%s) = %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1S", "PT1.S", "P99999999999999999999Y"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

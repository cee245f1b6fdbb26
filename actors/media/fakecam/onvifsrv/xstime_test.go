package onvifsrv

import (
	"testing"
	"time"
)

func TestParseXSDuration(t *testing.T) {
	good := map[string]time.Duration{
		"PT1S":     time.Second,
		"PT0.5S":   500 * time.Millisecond,
		"PT1M":     time.Minute,
		"PT1M30S":  90 * time.Second,
		"PT2H":     2 * time.Hour,
		"P1D":      24 * time.Hour,
		"P1DT1S":   24*time.Hour + time.Second,
		"-PT1S":    -time.Second,
		"PT0S":     0,
		" PT60S ":  time.Minute,
		"PT.25S":   250 * time.Millisecond,
		"PT1.000S": time.Second,
	}
	for in, want := range good {
		if got, err := parseXSDuration(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "1S", "PT1", "PTS", "PT1.5M", "PT1S1M", "PT1H1H", "P1S", "PT-1S", "P99999999D", "PT1e3S", "P1DT"} {
		if got, err := parseXSDuration(in); err == nil {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
	for _, d := range []time.Duration{time.Second, 500 * time.Millisecond, 5 * time.Minute} {
		if back, err := parseXSDuration(xsDuration(d)); err != nil || back != d {
			t.Errorf("%v → %q → %v %v", d, xsDuration(d), back, err)
		}
	}
}

func TestParseTermination(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if d, rel, err := parseTermination("PT2M", now); err != nil || d != 2*time.Minute || !rel {
		t.Errorf("PT2M: %v %v %v", d, rel, err)
	}
	for in, want := range map[string]time.Duration{
		"2026-03-01T12:05:00Z":      5 * time.Minute,
		"2026-03-01T13:05:00+01:00": 5 * time.Minute,
		"2026-03-01T12:00:30.5Z":    30500 * time.Millisecond,
		"2026-03-01T12:01:00":       time.Minute, // no zone: UTC
	} {
		if got, rel, err := parseTermination(in, now); err != nil || got != want || rel {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, _, err := parseTermination("tomorrow", now); err == nil {
		t.Error("garbage accepted")
	}
}

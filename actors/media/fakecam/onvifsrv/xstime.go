package onvifsrv

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// xsDateTime writes t as xs:dateTime in UTC to the second, with "Z":
// clients' date parsers (agsh/onvif's among them) want exactly that.
func xsDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// xsDateTimeMillis is xsDateTime with milliseconds, for event times,
// which order events within a second.
func xsDateTimeMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// parseXSDateTime reads an xs:dateTime with a zone (Z or ±hh:mm) and
// optional fractional seconds. A time without a zone is taken as UTC,
// as cameras do.
func parseXSDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not an xs:dateTime: %q", s)
}

// maxXSDuration bounds parsed durations: nothing in ONVIF needs more, and
// it keeps the arithmetic far from overflow.
const maxXSDuration = 1000 * 24 * time.Hour

// parseXSDuration reads an xs:duration such as PT1S, PT0.5S, PT1M30S or
// P1DT2H. Years and months count as 365 and 30 days (ONVIF timeouts never
// use them). Negative durations ("-PT1S") are returned negative.
func parseXSDuration(s string) (time.Duration, error) {
	orig := s
	bad := func() (time.Duration, error) { return 0, fmt.Errorf("not an xs:duration: %q", orig) }
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if !strings.HasPrefix(s, "P") {
		return bad()
	}
	s = s[1:]
	if s == "" || strings.HasSuffix(s, "T") {
		return bad()
	}
	var total float64 // seconds
	inTime, seen := false, false
	units := "YMD"
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad()
			}
			inTime, units = true, "HMS"
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return bad()
		}
		num, unit := s[:i], s[i]
		s = s[i+1:]
		k := strings.IndexByte(units, unit)
		if k < 0 {
			return bad() // unknown, repeated or out of order
		}
		units = units[k+1:]
		if strings.Contains(num, ".") && unit != 'S' {
			return bad() // only seconds may be fractional
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad()
		}
		var scale float64
		switch {
		case !inTime && unit == 'Y':
			scale = 365 * 86400
		case !inTime && unit == 'M':
			scale = 30 * 86400
		case !inTime && unit == 'D':
			scale = 86400
		case inTime && unit == 'H':
			scale = 3600
		case inTime && unit == 'M':
			scale = 60
		case inTime && unit == 'S':
			scale = 1
		}
		total += v * scale
		seen = true
	}
	if !seen {
		return bad()
	}
	if total > maxXSDuration.Seconds() || math.IsNaN(total) {
		return 0, errors.New("xs:duration too long")
	}
	d := time.Duration(math.Round(total * float64(time.Second)))
	if neg {
		d = -d
	}
	return d, nil
}

// xsDuration writes d as PT<seconds>S ("PT5S", "PT0.5S").
func xsDuration(d time.Duration) string {
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}

// parseTermination reads a WS-BaseNotification termination time: an
// xs:duration from now (relative) or an absolute xs:dateTime (of the
// camera's clock). It returns the duration from cameraNow.
func parseTermination(s string, cameraNow time.Time) (d time.Duration, relative bool, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "P") || strings.HasPrefix(s, "-P") {
		d, err = parseXSDuration(s)
		return d, true, err
	}
	t, err := parseXSDateTime(s)
	if err != nil {
		return 0, false, err
	}
	return t.Sub(cameraNow), false, nil
}

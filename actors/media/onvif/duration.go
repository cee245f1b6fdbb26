package onvif

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FormatDuration writes d as an xs:duration in seconds, e.g. PT1.5S.
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}

var durationPattern = regexp.MustCompile(`^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseDuration reads an xs:duration. Years count 365 days and months 30:
// ONVIF only uses durations of seconds to days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	m := durationPattern.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") || s == "-P" {
		return 0, fmt.Errorf("onvif: %q is not an xs:duration", s)
	}
	units := []float64{365 * 24 * 3600, 30 * 24 * 3600, 24 * 3600, 3600, 60, 1}
	var secs float64
	for i, u := range units {
		if m[i+2] == "" {
			continue
		}
		v, err := strconv.ParseFloat(m[i+2], 64)
		if err != nil {
			return 0, fmt.Errorf("onvif: %q is not an xs:duration", s)
		}
		secs += v * u
	}
	if secs > math.MaxInt64/float64(time.Second) {
		return 0, fmt.Errorf("onvif: xs:duration %q is too long", s)
	}
	d := time.Duration(secs * float64(time.Second))
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}

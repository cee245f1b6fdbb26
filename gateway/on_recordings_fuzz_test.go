package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// FuzzPlaybackRange: ?start=&end= of the playback routes. An accepted range
// is start (RFC 3339) to end (RFC 3339, default start + 1 h), end after
// start and at most 24 h later; anything else is a 400 on "start" or
// "end". The parsed times format and parse back to themselves.
func FuzzPlaybackRange(f *testing.F) {
	for _, c := range []struct {
		start, end string
		withEnd    bool
	}{
		{"2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", true},
		{"2024-05-01T10:00:00Z", "", false},
		{"2024-05-01T10:00:00Z", "", true},
		{"2024-05-01T10:00:00.123456789+02:00", "2024-05-01T10:00:00.5+02:00", true},
		{"2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z", true},
		{"2024-05-01T10:00:00Z", "2024-05-02T10:00:00.000000001Z", true},
		{"2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", true},
		{"2024-05-01T10:00:00Z", "2024-05-01T09:00:00Z", true},
		{"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", true},
		{"9999-12-31T23:59:59.999999999-23:59", "", false},
		{"0000-01-01T00:00:00+23:59", "", false},
		{"", "2024-05-01T11:00:00Z", true},
		{"yesterday", "", false},
		{"2024-05-01", "", false},
		{"2024-05-01T10:00:00", "", false},
		{"2024-05-01T25:00:00Z", "", false},
		{"2024-05-01T10:00:00Z", "1714557600000", true},
		{"1714557600000", "", false},
	} {
		f.Add(c.start, c.end, c.withEnd)
	}
	f.Fuzz(func(t *testing.T, start, end string, withEnd bool) {
		q := url.Values{"start": {start}}
		if withEnd {
			q.Set("end", end)
		}
		req := httptest.NewRequest(http.MethodGet, "/v1/devices/cam-1/channels/1/playback.mp4?"+q.Encode(), nil)
		c := echo.New().NewContext(req, httptest.NewRecorder())
		from, to, p := playbackRange(c)
		if p != nil {
			if p.Status != http.StatusBadRequest || (p.Field != "start" && p.Field != "end") || p.Detail == "" {
				t.Fatalf("problem %+v", p)
			}
			if start == "" && p.Field != "start" {
				t.Fatalf("no start: problem on %q", p.Field)
			}
			if _, err := time.Parse(time.RFC3339Nano, start); err != nil && p.Field != "start" {
				t.Fatalf("bad start %q: problem on %q", start, p.Field)
			}
			return
		}
		want, err := time.Parse(time.RFC3339Nano, start)
		if err != nil || !from.Equal(want) {
			t.Fatalf("start %q accepted as %v (%v)", start, from, err)
		}
		if withEnd && end != "" {
			wantTo, err := time.Parse(time.RFC3339Nano, end)
			if err != nil || !to.Equal(wantTo) {
				t.Fatalf("end %q accepted as %v (%v)", end, to, err)
			}
		} else if !to.Equal(from.Add(time.Hour)) {
			t.Fatalf("default end %v, want start + 1 h", to)
		}
		if !to.After(from) || to.Sub(from) > 24*time.Hour {
			t.Fatalf("range [%v, %v) accepted", from, to)
		}
		// format → parse round-trips, in UTC as the API writes times. (An
		// offset can put an accepted time in UTC year -1 or 10000, which
		// RFC 3339 cannot write; such a range only finds no recording.)
		for _, tm := range []time.Time{from, to} {
			if y := tm.UTC().Year(); y < 0 || y > 9999 {
				continue
			}
			s := tm.UTC().Format(time.RFC3339Nano)
			back, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !back.Equal(tm) {
				t.Fatalf("%v formats as %q, parses back as %v (%v)", tm, s, back, err)
			}
		}
	})
}

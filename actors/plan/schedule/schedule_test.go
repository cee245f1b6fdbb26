package schedule

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func loc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// local parses "2006-01-02 15:04" in zone (only for times that exist once).
func local(t testing.TB, zone, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc(t, zone))
	if err != nil {
		tm, err = time.ParseInLocation("2006-01-02 15:04", s, loc(t, zone))
	}
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func utc(t testing.TB, s string) time.Time { return local(t, "UTC", s) }

func normalized(t testing.TB, p Plan) *Plan {
	t.Helper()
	if err := p.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	return &p
}

var (
	office = Plan{Mode: "schedule", Timezone: "Asia/Shanghai",
		Windows: []Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "08:00", End: "18:00"}}}
	berlinNight = Plan{Mode: "schedule", Timezone: "Europe/Berlin",
		Windows: []Window{{Days: []string{"sat"}, Start: "22:00", End: "02:00"}}}
	nyDST = Plan{Mode: "schedule", Timezone: "America/New_York",
		Windows: []Window{{Days: []string{"sun"}, Start: "01:30", End: "03:30"}}}
)

func TestRecording(t *testing.T) {
	const sh, be, ny = "Asia/Shanghai", "Europe/Berlin", "America/New_York"
	// 2026-03-02 is a Monday, 2026-03-06 a Friday, 2026-03-07 a Saturday.
	tests := []struct {
		name string
		plan Plan
		at   time.Time
		want bool
	}{
		{"office mon 08:00", office, local(t, sh, "2026-03-02 08:00"), true},
		{"office mon 07:59:59", office, local(t, sh, "2026-03-02 07:59:59"), false},
		{"office mon 12:00", office, local(t, sh, "2026-03-02 12:00"), true},
		{"office mon 17:59:59", office, local(t, sh, "2026-03-02 17:59:59"), true},
		{"office mon 18:00", office, local(t, sh, "2026-03-02 18:00"), false},
		{"office sat 12:00", office, local(t, sh, "2026-03-07 12:00"), false},
		{"office sun 12:00", office, local(t, sh, "2026-03-08 12:00"), false},
		{"office mon 08:00 given in UTC", office, utc(t, "2026-03-02 00:00"), true},
		{"office sun 23:59 UTC is mon 07:59 local", office, utc(t, "2026-03-01 23:59"), false},

		{"berlin sat 21:59", berlinNight, local(t, be, "2026-03-07 21:59"), false},
		{"berlin sat 22:00", berlinNight, local(t, be, "2026-03-07 22:00"), true},
		{"berlin sat 23:00", berlinNight, local(t, be, "2026-03-07 23:00"), true},
		{"berlin sun 00:30", berlinNight, local(t, be, "2026-03-08 00:30"), true},
		{"berlin sun 01:59", berlinNight, local(t, be, "2026-03-08 01:59"), true},
		{"berlin sun 02:00", berlinNight, local(t, be, "2026-03-08 02:00"), false},
		{"berlin sun 23:00 (window is sat only)", berlinNight, local(t, be, "2026-03-08 23:00"), false},
		{"berlin fri 23:00", berlinNight, local(t, be, "2026-03-06 23:00"), false},
		// Spring forward in Berlin (2026-03-29 02:00 CET → 03:00 CEST): the
		// end 02:00 does not exist and stands for the transition, 01:00 UTC.
		{"berlin spring sun 00:59 UTC", berlinNight, utc(t, "2026-03-29 00:59"), true},
		{"berlin spring sun 01:00 UTC (03:00 CEST)", berlinNight, utc(t, "2026-03-29 01:00"), false},

		// New York spring forward 2026-03-08: 02:00 EST → 03:00 EDT.
		{"ny spring 01:29 EST", nyDST, utc(t, "2026-03-08 06:29"), false},
		{"ny spring 01:30 EST", nyDST, utc(t, "2026-03-08 06:30"), true},
		{"ny spring 01:59 EST", nyDST, utc(t, "2026-03-08 06:59"), true},
		{"ny spring 03:00 EDT", nyDST, utc(t, "2026-03-08 07:00"), true},
		{"ny spring 03:29 EDT", nyDST, utc(t, "2026-03-08 07:29"), true},
		{"ny spring 03:30 EDT", nyDST, utc(t, "2026-03-08 07:30"), false},
		// New York fall back 2026-11-01: 02:00 EDT → 01:00 EST.
		{"ny fall 01:29 EDT", nyDST, utc(t, "2026-11-01 05:29"), false},
		{"ny fall 01:30 EDT (first)", nyDST, utc(t, "2026-11-01 05:30"), true},
		{"ny fall 01:00 EST (second)", nyDST, utc(t, "2026-11-01 06:00"), true},
		{"ny fall 01:30 EST (second)", nyDST, utc(t, "2026-11-01 06:30"), true},
		{"ny fall 03:29 EST", nyDST, utc(t, "2026-11-01 08:29"), true},
		{"ny fall 03:30 EST", nyDST, utc(t, "2026-11-01 08:30"), false},

		{"off", Plan{Mode: "off", Windows: office.Windows}, local(t, sh, "2026-03-02 12:00"), false},
		{"off at night", Plan{Mode: "off"}, utc(t, "2026-03-02 03:00"), false},
		{"continuous", Plan{Mode: "continuous"}, utc(t, "2026-03-07 03:00"), true},
		{"continuous ignores windows", Plan{Mode: "continuous", Windows: office.Windows}, local(t, sh, "2026-03-07 12:00"), true},
		{"unknown mode never records", Plan{Mode: "sometimes"}, utc(t, "2026-03-07 03:00"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := normalizedOrRaw(t, tt.plan)
			if got := p.Recording(tt.at); got != tt.want {
				t.Errorf("Recording(%s) = %v, want %v", tt.at.Format(time.RFC3339), got, tt.want)
			}
		})
	}
}

// normalizedOrRaw normalizes valid plans; invalid ones are evaluated as given.
func normalizedOrRaw(t testing.TB, p Plan) *Plan {
	q := p
	if q.Normalize() != nil {
		return &p
	}
	return &q
}

func TestNextChange(t *testing.T) {
	const sh, be = "Asia/Shanghai", "Europe/Berlin"
	overlap := Plan{Mode: "schedule", Timezone: "UTC", Windows: []Window{
		{Days: []string{"mon"}, Start: "08:00", End: "12:00"},
		{Days: []string{"mon"}, Start: "10:00", End: "14:00"},
		{Days: []string{"mon"}, Start: "14:00", End: "15:00"}, // touching: no flip at 14:00
	}}
	allDay := Plan{Mode: "schedule", Windows: []Window{
		{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "00:00"}}}
	dayAndNight := Plan{Mode: "schedule", Timezone: "America/New_York", Windows: []Window{
		{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "06:00", End: "18:00"},
		{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "18:00", End: "06:00"}}}
	oneHourWeekly := Plan{Mode: "schedule", Timezone: sh, Windows: []Window{
		{Days: []string{"wed"}, Start: "12:00", End: "13:00"}}}
	tests := []struct {
		name string
		plan Plan
		from time.Time
		want time.Time // zero: none
	}{
		{"office fri 17:00 → fri 18:00", office, local(t, sh, "2026-03-06 17:00"), local(t, sh, "2026-03-06 18:00")},
		{"office fri 18:00 → mon 08:00", office, local(t, sh, "2026-03-06 18:00"), local(t, sh, "2026-03-09 08:00")},
		{"office fri 17:59:59.999 → fri 18:00", office, local(t, sh, "2026-03-06 17:59:59").Add(999 * time.Millisecond), local(t, sh, "2026-03-06 18:00")},
		{"office mon 07:00 → mon 08:00", office, local(t, sh, "2026-03-02 07:00"), local(t, sh, "2026-03-02 08:00")},
		{"office mon 08:00 → mon 18:00 (strictly after)", office, local(t, sh, "2026-03-02 08:00"), local(t, sh, "2026-03-02 18:00")},
		{"office sat → mon 08:00", office, local(t, sh, "2026-03-07 09:00"), local(t, sh, "2026-03-09 08:00")},

		{"berlin sat 12:00 → sat 22:00", berlinNight, local(t, be, "2026-03-07 12:00"), local(t, be, "2026-03-07 22:00")},
		{"berlin sat 23:00 → sun 02:00", berlinNight, local(t, be, "2026-03-07 23:00"), local(t, be, "2026-03-08 02:00")},
		{"berlin sun 02:00 → next sat 22:00", berlinNight, local(t, be, "2026-03-08 02:00"), local(t, be, "2026-03-14 22:00")},
		{"berlin into spring gap → transition", berlinNight, utc(t, "2026-03-28 22:00"), utc(t, "2026-03-29 01:00")},

		{"overlap merges", overlap, utc(t, "2026-03-02 09:00"), utc(t, "2026-03-02 15:00")},
		{"overlap start", overlap, utc(t, "2026-03-02 00:00"), utc(t, "2026-03-02 08:00")},

		{"weekly one hour, from just after", oneHourWeekly, local(t, sh, "2026-03-04 13:00"), local(t, sh, "2026-03-11 12:00")},
		{"weekly one hour, from within", oneHourWeekly, local(t, sh, "2026-03-04 12:30"), local(t, sh, "2026-03-04 13:00")},

		{"window lost in the spring gap → the week after", Plan{Mode: "schedule", Timezone: "America/New_York",
			Windows: []Window{{Days: []string{"sun"}, Start: "02:00", End: "02:45"}}},
			utc(t, "2026-03-02 12:00"), utc(t, "2026-03-15 06:00")},
		{"always-on schedule", allDay, utc(t, "2026-03-02 09:00"), time.Time{}},
		{"always-on across DST by touching windows", dayAndNight, utc(t, "2026-03-07 09:00"), time.Time{}},
		{"off", Plan{Mode: "off"}, utc(t, "2026-03-02 09:00"), time.Time{}},
		{"continuous", Plan{Mode: "continuous"}, utc(t, "2026-03-02 09:00"), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := normalized(t, tt.plan)
			got, ok := p.NextChange(tt.from)
			if tt.want.IsZero() {
				if ok {
					t.Fatalf("NextChange(%s) = %s, want none", tt.from.Format(time.RFC3339), got.Format(time.RFC3339))
				}
				return
			}
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("NextChange(%s) = %s %v, want %s", tt.from.Format(time.RFC3339), got.Format(time.RFC3339), ok, tt.want.Format(time.RFC3339))
			}
			if p.Recording(got) == p.Recording(got.Add(-time.Nanosecond)) {
				t.Errorf("Recording does not flip at %s", got.Format(time.RFC3339))
			}
		})
	}
}

// TestDSTElapsed checks that windows across DST transitions last the real
// elapsed time, not the wall-clock difference.
func TestDSTElapsed(t *testing.T) {
	tests := []struct {
		name       string
		plan       Plan
		before     time.Time
		start, end time.Time
		elapsed    time.Duration
	}{
		{"ny spring forward 01:30-03:30", nyDST, utc(t, "2026-03-08 00:00"),
			utc(t, "2026-03-08 06:30"), utc(t, "2026-03-08 07:30"), time.Hour},
		{"ny fall back 01:30-03:30", nyDST, utc(t, "2026-11-01 00:00"),
			utc(t, "2026-11-01 05:30"), utc(t, "2026-11-01 08:30"), 3 * time.Hour},
		{"ny spring start in the gap 02:30-04:00", Plan{Mode: "schedule", Timezone: "America/New_York",
			Windows: []Window{{Days: []string{"sun"}, Start: "02:30", End: "04:00"}}}, utc(t, "2026-03-08 00:00"),
			utc(t, "2026-03-08 07:00"), utc(t, "2026-03-08 08:00"), time.Hour},
		{"ny fall ambiguous start 01:15-02:00 uses first 01:15", Plan{Mode: "schedule", Timezone: "America/New_York",
			Windows: []Window{{Days: []string{"sun"}, Start: "01:15", End: "02:00"}}}, utc(t, "2026-11-01 00:00"),
			utc(t, "2026-11-01 05:15"), utc(t, "2026-11-01 07:00"), 105 * time.Minute},
		{"ny cross-midnight sat 22:00-06:00 over spring forward", Plan{Mode: "schedule", Timezone: "America/New_York",
			Windows: []Window{{Days: []string{"sat"}, Start: "22:00", End: "06:00"}}}, utc(t, "2026-03-07 12:00"),
			utc(t, "2026-03-08 03:00"), utc(t, "2026-03-08 10:00"), 7 * time.Hour},
		{"ny all-day sunday on fall back is 25 h", Plan{Mode: "schedule", Timezone: "America/New_York",
			Windows: []Window{{Days: []string{"sun"}, Start: "00:00", End: "24:00"}}}, utc(t, "2026-10-31 12:00"),
			utc(t, "2026-11-01 04:00"), utc(t, "2026-11-02 05:00"), 25 * time.Hour},
		{"berlin sat 22:00-02:00 ending in the spring gap", berlinNight, utc(t, "2026-03-28 12:00"),
			utc(t, "2026-03-28 21:00"), utc(t, "2026-03-29 01:00"), 4 * time.Hour},
		{"berlin sat 22:00-03:30 over fall back", Plan{Mode: "schedule", Timezone: "Europe/Berlin",
			Windows: []Window{{Days: []string{"sat"}, Start: "22:00", End: "03:30"}}}, utc(t, "2026-10-24 12:00"),
			utc(t, "2026-10-24 20:00"), utc(t, "2026-10-25 02:30"), 6*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := normalized(t, tt.plan)
			start, ok := p.NextChange(tt.before)
			if !ok || !start.Equal(tt.start) {
				t.Fatalf("start = %s %v, want %s", start.UTC().Format(time.RFC3339), ok, tt.start.Format(time.RFC3339))
			}
			end, ok := p.NextChange(start)
			if !ok || !end.Equal(tt.end) {
				t.Fatalf("end = %s %v, want %s", end.UTC().Format(time.RFC3339), ok, tt.end.Format(time.RFC3339))
			}
			if got := end.Sub(start); got != tt.elapsed {
				t.Errorf("elapsed %s, want %s", got, tt.elapsed)
			}
			if p.Recording(start.Add(-time.Second)) || !p.Recording(start) || !p.Recording(end.Add(-time.Second)) || p.Recording(end) {
				t.Errorf("Recording disagrees with [%s, %s)", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	win := func(days []string, start, end string) []Window {
		return []Window{{Days: []string{"mon"}, Start: "08:00", End: "18:00"}, {Days: days, Start: start, End: end}}
	}
	mon := []string{"mon"}
	tests := []struct {
		name  string
		plan  Plan
		field string
	}{
		{"bad mode", Plan{Mode: "always"}, "mode"},
		{"missing mode", Plan{}, "mode"},
		{"bad day", Plan{Mode: "schedule", Windows: win([]string{"mon", "funday"}, "08:00", "09:00")}, "schedule[1].days[1]"},
		{"full day name", Plan{Mode: "schedule", Windows: win([]string{"monday"}, "08:00", "09:00")}, "schedule[1].days[0]"},
		{"no days", Plan{Mode: "schedule", Windows: win(nil, "08:00", "09:00")}, "schedule[1].days"},
		{"start 25:00", Plan{Mode: "schedule", Windows: win(mon, "25:00", "09:00")}, "schedule[1].start"},
		{"end 25:00", Plan{Mode: "schedule", Windows: win(mon, "08:00", "25:00")}, "schedule[1].end"},
		{"start 8:00", Plan{Mode: "schedule", Windows: win(mon, "8:00", "09:00")}, "schedule[1].start"},
		{"end 9:00", Plan{Mode: "schedule", Windows: win(mon, "08:00", "9:00")}, "schedule[1].end"},
		{"start 24:00", Plan{Mode: "schedule", Windows: win(mon, "24:00", "09:00")}, "schedule[1].start"},
		{"end 24:01", Plan{Mode: "schedule", Windows: win(mon, "08:00", "24:01")}, "schedule[1].end"},
		{"minute 60", Plan{Mode: "schedule", Windows: win(mon, "08:60", "09:00")}, "schedule[1].start"},
		{"seconds", Plan{Mode: "schedule", Windows: win(mon, "08:00:00", "09:00")}, "schedule[1].start"},
		{"empty start", Plan{Mode: "schedule", Windows: win(mon, "", "09:00")}, "schedule[1].start"},
		{"bad window in off mode", Plan{Mode: "off", Windows: win(mon, "08:00", "x")}, "schedule[1].end"},
		{"bad zone", Plan{Mode: "off", Timezone: "Mars/Olympus_Mons"}, "timezone"},
		{"Local zone", Plan{Mode: "off", Timezone: "Local"}, "timezone"},
		{"path zone", Plan{Mode: "off", Timezone: "../../etc/passwd"}, "timezone"},
		{"segment 5", Plan{Mode: "off", SegmentSeconds: 5}, "segment_seconds"},
		{"segment 3601", Plan{Mode: "off", SegmentSeconds: 3601}, "segment_seconds"},
		{"segment -1", Plan{Mode: "off", SegmentSeconds: -1}, "segment_seconds"},
		{"retention -1", Plan{Mode: "off", RetentionDays: -1}, "retention_days"},
		{"retention 3651", Plan{Mode: "off", RetentionDays: 3651}, "retention_days"},
		{"schedule without windows", Plan{Mode: "schedule"}, "schedule"},
		{"too many windows", Plan{Mode: "schedule", Windows: make([]Window, MaxWindows+1)}, "schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plan
			before := p
			err := p.Normalize()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Normalize() = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Detail == "" {
				t.Errorf("field %q (%s), want %q", fe.Field, fe.Detail, tt.field)
			}
			if !reflect.DeepEqual(p, before) {
				t.Errorf("a failed Normalize changed the plan: %+v", p)
			}
		})
	}
}

func TestNormalizeDefaults(t *testing.T) {
	p := Plan{Mode: " Schedule ", Windows: []Window{
		{Days: []string{"FRI", "mon", "Mon", " sun "}, Start: "22:00", End: "24:00"},
	}}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	want := Plan{Mode: "schedule", Timezone: "UTC", SegmentSeconds: 60, RetentionDays: 7, Windows: []Window{
		{Days: []string{"mon", "fri", "sun"}, Start: "22:00", End: "24:00"},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	again := p
	if err := again.Normalize(); err != nil || !reflect.DeepEqual(again, p) {
		t.Errorf("Normalize is not idempotent: %+v %v", again, err)
	}
	q := Plan{Mode: "continuous", Timezone: "Asia/Shanghai", SegmentSeconds: 10, RetentionDays: 3650}
	if err := q.Normalize(); err != nil || q.SegmentSeconds != 10 || q.RetentionDays != 3650 || q.Timezone != "Asia/Shanghai" {
		t.Errorf("bounds: %+v %v", q, err)
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field string // "" for success
		want  Plan
	}{
		{"issue example", `{"mode":"schedule","schedule":[{"days":["mon","tue"],"start":"08:00","end":"18:00"}],
			"timezone":"Asia/Shanghai","segment_seconds":60,"retention_days":7}`, "",
			Plan{Mode: "schedule", Windows: []Window{{Days: []string{"mon", "tue"}, Start: "08:00", End: "18:00"}},
				Timezone: "Asia/Shanghai", SegmentSeconds: 60, RetentionDays: 7}},
		{"defaults", `{"mode":"continuous"}`, "", Plan{Mode: "continuous", Timezone: "UTC", SegmentSeconds: 60, RetentionDays: 7}},
		{"null numbers take defaults", `{"mode":"off","segment_seconds":null,"retention_days":null}`, "",
			Plan{Mode: "off", Timezone: "UTC", SegmentSeconds: 60, RetentionDays: 7}},
		{"retention 0", `{"mode":"off","retention_days":0}`, "retention_days", Plan{}},
		{"segment 0", `{"mode":"off","segment_seconds":0}`, "segment_seconds", Plan{}},
		{"segment 5", `{"mode":"off","segment_seconds":5}`, "segment_seconds", Plan{}},
		{"segment as string", `{"mode":"off","segment_seconds":"60"}`, "segment_seconds", Plan{}},
		{"bad day", `{"mode":"schedule","schedule":[{"days":["xyz"],"start":"08:00","end":"18:00"}]}`, "schedule[0].days[0]", Plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Plan
			err := json.Unmarshal([]byte(tt.body), &p)
			if err == nil {
				err = p.Normalize()
			}
			if tt.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err = %v, want field %q", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("got %+v\nwant %+v", p, tt.want)
			}
			out, _ := json.Marshal(p)
			var back Plan
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			if err := back.Normalize(); err != nil || !reflect.DeepEqual(back, p) {
				t.Errorf("round trip %s: %+v %v", out, back, err)
			}
		})
	}
}

// TestAgainstBruteForce walks weeks around DST transitions minute by minute
// and checks that NextChange finds exactly the flips of Recording.
func TestAgainstBruteForce(t *testing.T) {
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	plans := []Plan{
		{Mode: "schedule", Windows: []Window{
			{Days: []string{"sat", "sun"}, Start: "01:30", End: "03:30"},
			{Days: []string{"sat"}, Start: "22:00", End: "02:15"},
			{Days: []string{"wed"}, Start: "00:00", End: "00:00"},
			{Days: []string{"thu"}, Start: "23:45", End: "24:00"},
			{Days: []string{"fri"}, Start: "00:00", End: "00:10"},
			{Days: []string{"mon", "tue"}, Start: "12:00", End: "11:00"},
		}},
		{Mode: "schedule", Windows: []Window{{Days: all, Start: "23:30", End: "00:30"}}},
		{Mode: "schedule", Windows: []Window{{Days: []string{"sun"}, Start: "02:00", End: "02:45"}}},
		{Mode: "schedule", Windows: []Window{{Days: all, Start: "00:00", End: "23:59"}}},
	}
	zones := []struct{ name, from string }{
		{"America/New_York", "2026-03-05 00:00"},
		{"America/New_York", "2026-10-29 00:00"},
		{"Europe/Berlin", "2026-03-26 00:00"},
		{"Europe/Berlin", "2026-10-22 00:00"},
		{"Australia/Lord_Howe", "2026-04-02 00:00"}, // 30-minute DST shift
		{"Australia/Lord_Howe", "2026-10-01 00:00"},
		{"America/Santiago", "2026-04-02 00:00"}, // transitions at midnight
		{"America/Santiago", "2026-09-03 00:00"},
		{"Asia/Shanghai", "2026-03-02 00:00"},
	}
	for _, z := range zones {
		for i, base := range plans {
			base.Timezone = z.name
			p := normalized(t, base)
			start := utc(t, z.from)
			end := start.Add(12 * 24 * time.Hour)
			var flips []time.Time
			prev := p.Recording(start)
			for m := start.Add(time.Minute); m.Before(end); m = m.Add(time.Minute) {
				if r := p.Recording(m); r != prev {
					flips = append(flips, m)
					prev = r
				}
			}
			var chain []time.Time
			for c := start; ; {
				n, ok := p.NextChange(c)
				if !ok || !n.Before(end) {
					break
				}
				chain = append(chain, n)
				c = n
			}
			if len(flips) == 0 {
				t.Fatalf("%s plan %d: no flips at all", z.name, i)
			}
			if !slicesEqual(flips, chain) {
				t.Errorf("%s from %s plan %d:\nbrute force %v\nNextChange  %v", z.name, z.from, i, fmtTimes(flips), fmtTimes(chain))
			}
		}
	}
}

func slicesEqual(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func fmtTimes(ts []time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Format("01-02 15:04Z07:00"))
	}
	return out
}

func TestFieldErrorMessage(t *testing.T) {
	e := &FieldError{Field: "schedule[0].start", Detail: "must be HH:MM"}
	if got := e.Error(); got != "schedule[0].start: must be HH:MM" {
		t.Errorf("Error() = %q", got)
	}
}

func BenchmarkNextChange(b *testing.B) {
	p := normalized(b, office)
	at := local(b, "Asia/Shanghai", "2026-03-06 18:00")
	for b.Loop() {
		p.NextChange(at)
	}
}

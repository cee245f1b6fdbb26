// Package schedule is the pure part of a recording plan: its validation and
// the evaluation of its weekly schedule in a time zone. It does no I/O
// beyond loading time zones (from the system or the embedded database).
//
// A window on day D from Start to End covers [D Start, D End) in the plan's
// zone. When End <= Start (and not equal) the window crosses midnight and
// covers [D Start, D+1 End); when Start == End it covers the whole calendar
// day D. "24:00" is allowed as an End and means midnight at the end of D.
// Local times that do not exist (a spring-forward gap) stand for the first
// instant after the gap; ambiguous local times (fall-back) stand for their
// first occurrence. Overlapping or touching windows merge.
package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // binaries work on machines without a zoneinfo database

	"github.com/argus-vms/argus/events"
)

// Modes.
const (
	ModeContinuous = "continuous"
	ModeSchedule   = "schedule"
	ModeOff        = "off"
	ModeEvent      = "event" // record around alarms (within the windows, when there are any)
)

// Defaults and limits.
const (
	DefaultTimezone       = "UTC"
	DefaultSegmentSeconds = 60
	DefaultRetentionDays  = 7
	MinSegmentSeconds     = 10
	MaxSegmentSeconds     = 3600
	MinRetentionDays      = 1
	MaxRetentionDays      = 3650
	MaxWindows            = 64
	// LookAhead is how far NextChange looks for the next flip. A week is
	// not always enough: a weekly window that falls entirely into a
	// spring-forward gap vanishes that week, and the next flip is up to two
	// weeks away. With 15 days, "no change" really means never.
	LookAhead = 15 * 24 * time.Hour
)

// Window is one weekly recording window.
type Window struct {
	Days  []string `json:"days"`  // mon..sun, lowercase once normalized
	Start string   `json:"start"` // "HH:MM", 24-hour, two digits each
	End   string   `json:"end"`   // "HH:MM" or "24:00"; <= Start crosses midnight; == Start is all day
}

// Plan is a channel's recording plan.
type Plan struct {
	Mode           string   `json:"mode"` // "continuous" | "schedule" | "off"
	Windows        []Window `json:"schedule,omitempty"`
	Timezone       string   `json:"timezone"`        // IANA name; default "UTC"
	SegmentSeconds int      `json:"segment_seconds"` // default 60, 10..3600
	RetentionDays  int      `json:"retention_days"`  // default 7, 1..3650
	Event          *Event   `json:"event,omitempty"` // mode event
	// VideoOnly records the video alone (the API's "audio": false); a
	// plan records the camera's audio by default.
	VideoOnly bool `json:"-"`

	// Set by UnmarshalJSON when the JSON named the field, so that an
	// explicit 0 is rejected by Normalize instead of taking the default.
	segmentSet, retentionSet bool
}

// FieldError names the offending field the way the API's problem+json
// does: "mode", "schedule", "schedule[1].days[0]", "schedule[0].start",
// "timezone", "segment_seconds", "retention_days".
type FieldError struct {
	Field, Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// UnmarshalJSON decodes the API form of a plan. Fields that are absent take
// their defaults in Normalize; a segment_seconds or retention_days given as
// 0 is kept as an explicit value, and Normalize rejects it. A value of the
// wrong JSON type is reported as a *FieldError.
func (p *Plan) UnmarshalJSON(data []byte) error {
	var w struct {
		Mode           string   `json:"mode"`
		Windows        []Window `json:"schedule"`
		Timezone       string   `json:"timezone"`
		SegmentSeconds *int     `json:"segment_seconds"`
		RetentionDays  *int     `json:"retention_days"`
		Event          *Event   `json:"event"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldErr(te.Field, "must be a JSON %s", te.Type.Kind())
		}
		return err
	}
	*p = Plan{Mode: w.Mode, Windows: w.Windows, Timezone: w.Timezone, Event: w.Event}
	if w.SegmentSeconds != nil {
		p.SegmentSeconds, p.segmentSet = *w.SegmentSeconds, true
	}
	if w.RetentionDays != nil {
		p.RetentionDays, p.retentionSet = *w.RetentionDays, true
	}
	return nil
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} // by time.Weekday

func parseDay(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseClock parses "HH:MM" (exactly two digits each) into minutes after
// midnight; "24:00" (1440) only when end is true.
func parseClock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range [4]int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case m > 59:
		return 0, false
	case h == 24 && m == 0 && end:
		return 24 * 60, true
	case h > 23:
		return 0, false
	}
	return h*60 + m, true
}

var locations sync.Map // name → *time.Location

// loadLocation is time.LoadLocation with a cache; "Local" is refused since
// it depends on the machine.
func loadLocation(name string) (*time.Location, error) {
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, errors.New("not an IANA time zone name")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

// Normalize fills defaults, validates every field and canonicalizes the
// plan: mode and days are lowercased, each window's days are deduplicated
// and put in week order (mon..sun). Zero SegmentSeconds and RetentionDays
// take their defaults unless they came as an explicit 0 through
// UnmarshalJSON. On error it returns a *FieldError and leaves p unchanged.
// Windows are validated (and kept) whatever the mode; mode "schedule" needs
// at least one.
func (p *Plan) Normalize() error {
	q := Plan{Mode: strings.ToLower(strings.TrimSpace(p.Mode)), VideoOnly: p.VideoOnly}
	switch q.Mode {
	case ModeContinuous, ModeSchedule, ModeOff, ModeEvent:
	case "":
		return fieldErr("mode", "is required: continuous, schedule, event or off")
	default:
		return fieldErr("mode", "must be continuous, schedule, event or off, not %q", p.Mode)
	}
	if p.Event != nil && q.Mode != ModeEvent {
		return fieldErr("event", "is for mode event only")
	}
	if q.Mode == ModeEvent {
		ev, err := p.Event.normalize()
		if err != nil {
			return err
		}
		q.Event = ev
	}

	if len(p.Windows) > MaxWindows {
		return fieldErr("schedule", "has %d windows; at most %d are allowed", len(p.Windows), MaxWindows)
	}
	if len(p.Windows) > 0 {
		q.Windows = make([]Window, 0, len(p.Windows))
	}
	for i, w := range p.Windows {
		f := "schedule[" + strconv.Itoa(i) + "]"
		if len(w.Days) == 0 {
			return fieldErr(f+".days", "must list at least one day (mon..sun)")
		}
		var set [7]bool
		for j, d := range w.Days {
			wd, ok := parseDay(strings.ToLower(strings.TrimSpace(d)))
			if !ok {
				return fieldErr(f+".days["+strconv.Itoa(j)+"]", "must be one of mon, tue, wed, thu, fri, sat, sun, not %q", d)
			}
			set[wd] = true
		}
		if _, ok := parseClock(w.Start, false); !ok {
			return fieldErr(f+".start", "must be a 24-hour time \"HH:MM\" from 00:00 to 23:59, not %q", w.Start)
		}
		if _, ok := parseClock(w.End, true); !ok {
			return fieldErr(f+".end", "must be a 24-hour time \"HH:MM\" from 00:00 to 24:00, not %q", w.End)
		}
		nw := Window{Start: w.Start, End: w.End}
		for k := range 7 {
			if wd := (k + 1) % 7; set[wd] { // mon first
				nw.Days = append(nw.Days, dayNames[wd])
			}
		}
		q.Windows = append(q.Windows, nw)
	}
	if q.Mode == ModeSchedule && len(q.Windows) == 0 {
		return fieldErr("schedule", "mode schedule needs at least one window")
	}

	q.Timezone = strings.TrimSpace(p.Timezone)
	if q.Timezone == "" {
		q.Timezone = DefaultTimezone
	}
	if _, err := loadLocation(q.Timezone); err != nil {
		return fieldErr("timezone", "unknown time zone %q (want an IANA name such as \"Asia/Shanghai\")", p.Timezone)
	}

	q.SegmentSeconds = p.SegmentSeconds
	if q.SegmentSeconds == 0 && !p.segmentSet {
		q.SegmentSeconds = DefaultSegmentSeconds
	}
	if q.SegmentSeconds < MinSegmentSeconds || q.SegmentSeconds > MaxSegmentSeconds {
		return fieldErr("segment_seconds", "must be from %d to %d, not %d", MinSegmentSeconds, MaxSegmentSeconds, p.SegmentSeconds)
	}
	q.RetentionDays = p.RetentionDays
	if q.RetentionDays == 0 && !p.retentionSet {
		q.RetentionDays = DefaultRetentionDays
	}
	if q.RetentionDays < MinRetentionDays || q.RetentionDays > MaxRetentionDays {
		return fieldErr("retention_days", "must be from %d to %d, not %d", MinRetentionDays, MaxRetentionDays, p.RetentionDays)
	}
	*p = q
	return nil
}

// Event is how an event plan records: from PreRollSeconds before a trigger
// to PostRollSeconds after it ended, for alarms of the listed types (none:
// any alarm of the channel or of the device as a whole).
type Event struct {
	PreRollSeconds  int      `json:"pre_roll_seconds"`
	PostRollSeconds int      `json:"post_roll_seconds"`
	Triggers        []string `json:"triggers"`
}

// Bounds and defaults of event recording.
const (
	MaxPreRollSeconds      = 30
	MaxPostRollSeconds     = 300
	DefaultPreRollSeconds  = 5
	DefaultPostRollSeconds = 10
	MaxTriggers            = 16
)

// normalize checks e (nil: the defaults) and returns a copy.
func (e *Event) normalize() (*Event, error) {
	if e == nil {
		return &Event{PreRollSeconds: DefaultPreRollSeconds, PostRollSeconds: DefaultPostRollSeconds}, nil
	}
	q := &Event{PreRollSeconds: e.PreRollSeconds, PostRollSeconds: e.PostRollSeconds}
	if q.PreRollSeconds < 0 || q.PreRollSeconds > MaxPreRollSeconds {
		return nil, fieldErr("event.pre_roll_seconds", "must be from 0 to %d, not %d", MaxPreRollSeconds, e.PreRollSeconds)
	}
	if q.PostRollSeconds < 0 || q.PostRollSeconds > MaxPostRollSeconds {
		return nil, fieldErr("event.post_roll_seconds", "must be from 0 to %d, not %d", MaxPostRollSeconds, e.PostRollSeconds)
	}
	if len(e.Triggers) > MaxTriggers {
		return nil, fieldErr("event.triggers", "has %d types; at most %d are allowed", len(e.Triggers), MaxTriggers)
	}
	for i, t := range e.Triggers {
		if !events.ValidAlarmType(t) {
			return nil, fieldErr("event.triggers["+strconv.Itoa(i)+"]", "must be an alarm type (%s), not %q", events.AlarmTypeRule, t)
		}
		if !slices.Contains(q.Triggers, t) {
			q.Triggers = append(q.Triggers, t)
		}
	}
	return q, nil
}

// Triggered reports whether an alarm of type typ starts recording.
func (e *Event) Triggered(typ string) bool {
	return e != nil && (len(e.Triggers) == 0 || slices.Contains(e.Triggers, typ))
}

// Armed reports whether an event plan records triggers at at: always
// without windows, else within them.
func (p *Plan) Armed(at time.Time) bool {
	if p.Mode != ModeEvent {
		return false
	}
	if len(p.Windows) == 0 {
		return true
	}
	q := *p
	q.Mode = ModeSchedule
	return q.Recording(at)
}

// span is a parsed window: on the days in days, it covers minutes
// [start, end) after local midnight; end may exceed 1440 (next day).
type span struct {
	days       [7]bool
	start, end int
}

type interval struct{ start, end time.Time }

// compiled is what evaluation needs. Plans are expected to be normalized;
// otherwise invalid windows are ignored and an unknown zone counts as UTC.
type compiled struct {
	mode  string
	loc   *time.Location
	spans []span
}

func (p *Plan) compile() compiled {
	c := compiled{mode: strings.ToLower(strings.TrimSpace(p.Mode)), loc: time.UTC}
	if tz := strings.TrimSpace(p.Timezone); tz != "" {
		if loc, err := loadLocation(tz); err == nil {
			c.loc = loc
		}
	}
	if c.mode != ModeSchedule {
		return c
	}
	for _, w := range p.Windows {
		var s span
		var ok bool
		if s.start, ok = parseClock(w.Start, false); !ok {
			continue
		}
		if s.end, ok = parseClock(w.End, true); !ok {
			continue
		}
		switch {
		case s.end == s.start:
			s.start, s.end = 0, 24*60
		case s.end < s.start:
			s.end += 24 * 60
		}
		hasDay := false
		for _, d := range w.Days {
			if wd, ok := parseDay(strings.ToLower(strings.TrimSpace(d))); ok {
				s.days[wd], hasDay = true, true
			}
		}
		if hasDay {
			c.spans = append(c.spans, s)
		}
	}
	return c
}

// intervals lists the windows starting on local days from..to (relative to
// at's local date), unsorted, empty ones dropped.
func (c *compiled) intervals(at time.Time, from, to int) []interval {
	y, m, d := at.In(c.loc).Date()
	var out []interval
	for k := from; k <= to; k++ {
		day := time.Date(y, m, d+k, 0, 0, 0, 0, time.UTC) // civil date
		wd := day.Weekday()
		for _, s := range c.spans {
			if !s.days[wd] {
				continue
			}
			iv := interval{
				start: resolve(day.Add(time.Duration(s.start)*time.Minute), c.loc),
				end:   resolve(day.Add(time.Duration(s.end)*time.Minute), c.loc),
			}
			if iv.end.After(iv.start) {
				out = append(out, iv)
			}
		}
	}
	return out
}

// resolve turns a wall-clock time (given as a UTC time.Time) into the
// instant it names in loc: the first occurrence of an ambiguous time, and
// the first instant after the gap for a time that does not exist.
func resolve(wall time.Time, loc *time.Location) time.Time {
	w := wall.Unix()
	offset := func(u int64) int64 {
		_, off := time.Unix(u, 0).In(loc).Zone()
		return int64(off)
	}
	var cands [3]int64
	found, best := false, int64(0)
	for i, probe := range [3]int64{w - 86400, w, w + 86400} {
		off := offset(probe)
		t := w - off
		cands[i] = t
		if offset(t) == off && (!found || t < best) {
			found, best = true, t
		}
	}
	if !found {
		// In a gap: the answer is the transition, the first instant whose
		// wall clock reads w or later. It lies between the candidates.
		lo, hi := slices.Min(cands[:]), slices.Max(cands[:])
		for lo < hi {
			mid := lo + (hi-lo)/2
			if mid+offset(mid) >= w {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		best = lo
	}
	return time.Unix(best, 0).In(loc)
}

// Recording reports whether the plan says to record at instant at.
func (p *Plan) Recording(at time.Time) bool {
	c := p.compile()
	switch c.mode {
	case ModeContinuous:
		return true
	case ModeSchedule:
		// A window starts on its local day and lasts at most about a day;
		// the margins cover zones whose clocks jump across midnight.
		for _, iv := range c.intervals(at, -2, 1) {
			if !at.Before(iv.start) && at.Before(iv.end) {
				return true
			}
		}
	}
	return false
}

// NextChange returns the first instant after at where Recording flips, in
// the plan's zone. It reports false when there is none within LookAhead
// (15 days): modes continuous and off, and schedules that always record.
func (p *Plan) NextChange(at time.Time) (time.Time, bool) {
	if p.Mode == ModeEvent && len(p.Windows) > 0 { // when it arms and disarms
		q := *p
		q.Mode = ModeSchedule
		return q.NextChange(at)
	}
	c := p.compile()
	if c.mode != ModeSchedule {
		return time.Time{}, false
	}
	// Windows starting two days before at's local date can still be open;
	// those starting after the look-ahead horizon (plus a margin for clock
	// jumps) cannot matter.
	ivs := c.intervals(at, -2, int(LookAhead/(24*time.Hour))+2)
	slices.SortFunc(ivs, func(a, b interval) int { return a.start.Compare(b.start) })
	var merged []interval
	for _, iv := range ivs {
		if n := len(merged); n > 0 && !iv.start.After(merged[n-1].end) {
			if iv.end.After(merged[n-1].end) {
				merged[n-1].end = iv.end
			}
			continue
		}
		merged = append(merged, iv)
	}
	limit := at.Add(LookAhead)
	for _, iv := range merged {
		var next time.Time
		switch {
		case iv.start.After(at):
			next = iv.start
		case iv.end.After(at):
			next = iv.end
		default:
			continue
		}
		if next.After(limit) {
			return time.Time{}, false
		}
		return next, true
	}
	return time.Time{}, false
}

package onvifsrv

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// viewCall is one OnView call.
type viewCall struct {
	profile         string
	pan, tilt, zoom float64
	motion          bool
	at              time.Time
}

func (c viewCall) String() string {
	return fmt.Sprintf("%s pan %.3f tilt %.3f zoom %.3f motion %v", c.profile, c.pan, c.tilt, c.zoom, c.motion)
}

// viewRecorder records OnView calls; next waits for them in order.
type viewRecorder struct {
	mu    sync.Mutex
	calls []viewCall
	grew  chan struct{} // closed and replaced on each call
	read  int           // calls consumed by next
}

func newViewRecorder() *viewRecorder { return &viewRecorder{grew: make(chan struct{})} }

func (r *viewRecorder) onView(profile string, pan, tilt, zoom float64, motion bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, viewCall{profile, pan, tilt, zoom, motion, time.Now()})
	close(r.grew)
	r.grew = make(chan struct{})
}

// next returns the next unread call for profile, waiting up to d.
func (r *viewRecorder) next(t *testing.T, profile string, d time.Duration) (viewCall, bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		for r.read < len(r.calls) {
			c := r.calls[r.read]
			r.read++
			if c.profile == profile {
				r.mu.Unlock()
				return c, true
			}
		}
		grew := r.grew
		r.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			return viewCall{}, false
		}
	}
}

// expect skips calls for profile until one satisfies ok (within 3 s).
func (r *viewRecorder) expect(t *testing.T, profile, what string, ok func(viewCall) bool) viewCall {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	var seen []viewCall
	for {
		c, got := r.next(t, profile, time.Until(deadline))
		if !got {
			t.Fatalf("no OnView call for %s with %s; saw %v", profile, what, seen)
		}
		if ok(c) {
			return c
		}
		seen = append(seen, c)
	}
}

func exactly(pan, tilt, zoom float64, motion bool) func(viewCall) bool {
	return func(c viewCall) bool {
		return c.pan == pan && c.tilt == tilt && c.zoom == zoom && c.motion == motion
	}
}

func TestOnViewFollowsPTZ(t *testing.T) {
	rec := newViewRecorder()
	o := twoProfiles(true)
	o.OnView = rec.onView
	s := start(t, o)

	// Every profile is reported at the start.
	rec.expect(t, "main", "the initial view", exactly(0, 0, 0, false))
	rec.read = 0
	rec.expect(t, "profile_2", "the initial view", exactly(0, 0, 0, false))

	ptzCall(t, s, `<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position>`+
		`<tt:PanTilt x="0.5" y="-0.25"/><tt:Zoom x="0.4"/></tptz:Position></tptz:AbsoluteMove>`)
	rec.expect(t, "main", "the absolute position", exactly(0.5, -0.25, 0.4, false))
	rec.expect(t, "profile_2", "the absolute position (one head for all)", exactly(0.5, -0.25, 0.4, false))

	// A continuous move is reported while it runs, about 4 times a second,
	// then once more where it stopped.
	t0 := time.Now()
	ptzCall(t, s, `<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken>`+
		`<tptz:Velocity><tt:PanTilt x="0" y="0.5"/></tptz:Velocity><tptz:Timeout>PT1.2S</tptz:Timeout></tptz:ContinuousMove>`)
	var during []viewCall
	for {
		c, ok := rec.next(t, "main", 3*time.Second)
		if !ok {
			t.Fatalf("continuous move: calls stopped after %v", during)
		}
		during = append(during, c)
		if math.Abs(c.tilt-0.35) < 1e-9 {
			break // -0.25 + 1.2 s × 0.5
		}
		if c.tilt < -0.25 || c.tilt > 0.35 || c.pan != 0.5 || c.zoom != 0.4 {
			t.Fatalf("continuous move: call %v", c)
		}
	}
	if len(during) < 3 || len(during) > 7 {
		t.Fatalf("continuous move of 1.2 s reported %d times: %v", len(during), during)
	}
	for i := 1; i < len(during); i++ {
		if during[i].tilt <= during[i-1].tilt {
			t.Fatalf("tilt not increasing: %v", during)
		}
		if gap := during[i].at.Sub(during[i-1].at); gap < viewInterval*6/10 {
			t.Fatalf("calls %v apart (more than ~4 a second): %v", gap, during)
		}
	}
	if d := during[len(during)-1].at.Sub(t0); d < time.Second || d > 2*time.Second {
		t.Fatalf("settled position reported %v after the move started", d)
	}
	// Settled: nothing more.
	if c, ok := rec.next(t, "main", 600*time.Millisecond); ok {
		t.Fatalf("call after the head settled: %v", c)
	}

	// Presets.
	ptzCall(t, s, `<tptz:SetPreset><tptz:ProfileToken>main</tptz:ProfileToken></tptz:SetPreset>`)
	ptzCall(t, s, `<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position><tt:PanTilt x="-1" y="1"/></tptz:Position></tptz:AbsoluteMove>`)
	rec.expect(t, "main", "the second absolute position", exactly(-1, 1, 0.4, false))
	ptzCall(t, s, `<tptz:GotoPreset><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PresetToken>preset_1</tptz:PresetToken></tptz:GotoPreset>`)
	c := rec.expect(t, "main", "the preset's position", func(c viewCall) bool { return c.pan == 0.5 && c.zoom == 0.4 })
	if math.Abs(c.tilt-0.35) > 1e-9 {
		t.Fatalf("preset position %v", c)
	}
	// Home (never set: 0, 0, 0).
	ptzCall(t, s, `<tptz:GotoHomePosition><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GotoHomePosition>`)
	rec.expect(t, "main", "home", exactly(0, 0, 0, false))
}

func TestOnViewFollowsMotion(t *testing.T) {
	rec := newViewRecorder()
	o := twoProfiles(false)
	o.OnView = rec.onView
	s := start(t, o)
	rec.expect(t, "profile_2", "the initial view", exactly(0, 0, 0, false))
	rec.read = 0

	s.RaiseMotion("main", true)
	rec.expect(t, "main", "motion on", exactly(0, 0, 0, true))
	s.RaiseMotion("VideoSourceConfig_2", true)
	rec.expect(t, "profile_2", "motion on", exactly(0, 0, 0, true))
	// Raising the same state again changes nothing.
	s.RaiseMotion("main", true)
	s.RaiseMotion("VideoSource_1", false)
	rec.expect(t, "main", "motion off", exactly(0, 0, 0, false))

	// A restart forgets the motion state, and says so.
	restart(t, s)
	rec.expect(t, "profile_2", "motion off after a restart", exactly(0, 0, 0, false))
	rec.mu.Lock()
	n := 0
	for _, c := range rec.calls {
		if c.profile == "main" {
			n++
		}
	}
	rec.mu.Unlock()
	if n != 3 { // initial, on, off: no call for the repeated "on", none for the restart
		t.Fatalf("%d calls for main, want 3: %v", n, rec.calls)
	}
}

func TestOnViewMotionEvery(t *testing.T) {
	rec := newViewRecorder()
	start(t, Options{MotionEvery: 300 * time.Millisecond, OnView: rec.onView})
	rec.expect(t, "main", "the initial view", exactly(0, 0, 0, false))
	rec.expect(t, "main", "MotionEvery on", exactly(0, 0, 0, true))
	rec.expect(t, "main", "MotionEvery off", exactly(0, 0, 0, false))
}

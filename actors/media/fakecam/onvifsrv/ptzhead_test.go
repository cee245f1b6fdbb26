package onvifsrv

import (
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPTZHeadIntegratesAndClamps(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	h := newPTZHead(clk.now)

	h.continuous(vec{0.5, -1, 0.25}, 10*time.Second)
	clk.advance(time.Second)
	if st := h.state(); st != (PTZState{Pan: 0.5, Tilt: -1, Zoom: 0.25, Moving: true}) {
		t.Fatalf("after 1 s: %+v", st)
	}
	clk.advance(time.Second / 2)
	// Tilt is at its limit but pan still moves.
	if pos, pt, z := h.status(); pos != (vec{0.75, -1, 0.375}) || !pt || !z {
		t.Fatalf("after 1.5 s: %+v %v %v", pos, pt, z)
	}
	clk.advance(time.Second / 2)
	// Now pan is at its limit too: pan/tilt stopped, zoom still moving.
	if pos, pt, z := h.status(); pos != (vec{1, -1, 0.5}) || pt || !z {
		t.Fatalf("after 2 s: %+v %v %v", pos, pt, z)
	}
	clk.advance(10 * time.Second)
	// Pan hit 1 at 2 s; zoom hit 1 at 4 s; the move timed out at 10 s.
	if st := h.state(); st != (PTZState{Pan: 1, Tilt: -1, Zoom: 1}) {
		t.Fatalf("after the timeout: %+v", st)
	}

	// At a limit, pushing further is not moving; pulling back is.
	h.continuous(vec{1, 0, 0}, 10*time.Second)
	if st := h.state(); st.Moving {
		t.Fatalf("moving into a limit: %+v", st)
	}
	h.continuous(vec{-1, 0, 0}, 500*time.Millisecond)
	clk.advance(time.Second)
	if st := h.state(); st.Pan != 0.5 || st.Moving {
		t.Fatalf("timed move back: %+v", st)
	}

	// Stopping one axis keeps the other.
	h.continuous(vec{0.1, 0, -0.1}, 10*time.Second)
	h.stop(true, false)
	clk.advance(time.Second)
	if pos, pt, z := h.status(); pos.pan != 0.5 || pos.zoom != 0.9 || pt || !z {
		t.Fatalf("zoom only: %+v %v %v", pos, pt, z)
	}
	h.halt()
	if st := h.state(); st.Moving {
		t.Fatalf("after halt: %+v", st)
	}
}

func TestPTZHeadPresetLimit(t *testing.T) {
	h := newPTZHead(time.Now)
	for i := range maxPresets {
		if _, err := h.setPreset("", "p"+itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.setPreset("", "one more"); err != errTooManyPreset {
		t.Fatalf("preset %d: %v", maxPresets+1, err)
	}
	if _, err := h.setPreset("preset_1", "renamed"); err != nil {
		t.Fatalf("overwrite at the limit: %v", err)
	}
}

package motion

import (
	"math/rand/v2"
	"testing"
	"time"
)

const tw, th = 64, 36 // the default grid

// scene draws synthetic grey frames: a textured background, sensor noise
// of ±noise levels and optional blocks.
type scene struct {
	rng   *rand.Rand
	bg    []byte
	noise int
	frame []byte
}

func newScene(noise int) *scene {
	s := &scene{rng: rand.New(rand.NewPCG(1, 2)), bg: make([]byte, tw*th), noise: noise, frame: make([]byte, tw*th)}
	for y := range th {
		for x := range tw {
			s.bg[y*tw+x] = byte(60 + (x*7+y*13)%120)
		}
	}
	return s
}

type block struct{ x, y, w, h, level int }

// draw returns the next frame (the same buffer each time, as Run's).
func (s *scene) draw(offset int, blocks ...block) []byte {
	for i, v := range s.bg {
		n := int(v) + offset
		if s.noise > 0 {
			n += s.rng.IntN(2*s.noise+1) - s.noise
		}
		s.frame[i] = byte(min(max(n, 0), 255))
	}
	for _, b := range blocks {
		for y := max(b.y, 0); y < min(b.y+b.h, th); y++ {
			for x := max(b.x, 0); x < min(b.x+b.w, tw); x++ {
				s.frame[y*tw+x] = byte(b.level)
			}
		}
	}
	return s.frame
}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const step = 200 * time.Millisecond // 5 fps

func at(i int) time.Time { return t0.Add(time.Duration(i) * step) }

// feedAll feeds frames i = 0..n-1 drawn by frame(i) and returns the events
// with the index of the frame that caused each.
func feedAll(d *Detector, n int, frame func(i int) []byte) ([]Event, []int) {
	var evs []Event
	var idx []int
	for i := range n {
		if ev, ok := d.Feed(frame(i), at(i)); ok {
			evs = append(evs, ev)
			idx = append(idx, i)
		}
	}
	return evs, idx
}

func TestStaticNoisyPictureNoEvent(t *testing.T) {
	for _, sens := range []float64{0, 0.5, 1} {
		s := newScene(3)
		d := NewDetector(Config{Sensitivity: sens}, tw, th)
		evs, _ := feedAll(d, 300, func(i int) []byte {
			// and an IDR's brightness pulse every second
			off := 0
			if i%5 == 0 {
				off = 4
			}
			return s.draw(off, block{20, 10, 6, 6, 240})
		})
		if len(evs) != 0 {
			t.Errorf("sensitivity %v: %d events on a static picture: %+v", sens, len(evs), evs)
		}
	}
}

func TestIsolatedSpecklesNoEvent(t *testing.T) {
	// 1 % of the pixels flip to white at random each frame (a noisy
	// sensor at night, compression artefacts): never two neighbours
	// together often enough to count.
	s := newScene(0)
	rng := rand.New(rand.NewPCG(3, 4))
	d := NewDetector(Config{Sensitivity: 0.5}, tw, th)
	evs, _ := feedAll(d, 100, func(int) []byte {
		f := s.draw(0)
		for range tw * th / 100 {
			f[rng.IntN(len(f))] = 255
		}
		return f
	})
	if len(evs) != 0 {
		t.Errorf("%d events from isolated speckles: %+v", len(evs), evs)
	}
}

// moving: a 6×6 block at x0 that moves 3 px a frame during frames
// [from, to) and stays still otherwise.
func moving(x0, y, from, to int) func(i int) block {
	return func(i int) block {
		steps := min(max(i-from+1, 0), to-from)
		return block{x0 + 3*steps, y, 6, 6, 240}
	}
}

func TestMovingBlockStartThenEnd(t *testing.T) {
	s := newScene(3)
	cooldown := 2 * time.Second
	d := NewDetector(Config{Cooldown: cooldown}, tw, th)
	blk := moving(20, 10, 10, 20) // moves during frames 10..19
	evs, idx := feedAll(d, 40, func(i int) []byte { return s.draw(0, blk(i)) })
	if len(evs) != 2 || !evs[0].Start || evs[1].Start {
		t.Fatalf("events %+v, want Start then End", evs)
	}
	if idx[0] != 10 || !evs[0].Time.Equal(at(10)) {
		t.Errorf("Start at frame %d (Time %v), want frame 10", idx[0], evs[0].Time)
	}
	// frame 10: the block went from x 20..25 to 23..28, y 10..15
	want := [4]float64{20.0 / tw, 10.0 / th, 9.0 / tw, 6.0 / th}
	if evs[0].Box != want {
		t.Errorf("Start box %v, want %v", evs[0].Box, want)
	}
	if evs[0].Score < 36.0/(tw*th) {
		t.Errorf("Start score %v, want ≥ 36 pixels' worth", evs[0].Score)
	}
	// last changed frame 19; End at 19 + 2 s = frame 29
	if idx[1] != 29 || !evs[1].Time.Equal(at(19).Add(cooldown)) {
		t.Errorf("End at frame %d, Time %v; want frame 29, Time %v", idx[1], evs[1].Time, at(19).Add(cooldown))
	}
	if d.Active() {
		t.Error("still active after End")
	}
}

func TestBlockOutsideZonesNothing(t *testing.T) {
	left := Config{Zones: [][4]float64{{0, 0, 0.5, 1}}}
	s := newScene(3)
	d := NewDetector(left, tw, th)
	blk := moving(36, 10, 5, 15) // x 36..: right half only
	if evs, _ := feedAll(d, 30, func(i int) []byte { return s.draw(0, blk(i)) }); len(evs) != 0 {
		t.Errorf("block outside the zone: events %+v", evs)
	}
	// control: the same in the left half
	d = NewDetector(left, tw, th)
	blk = moving(2, 10, 5, 15)
	evs, _ := feedAll(d, 30, func(i int) []byte { return s.draw(0, blk(i)) })
	if len(evs) == 0 || !evs[0].Start {
		t.Fatalf("block inside the zone: events %+v", evs)
	}
	if b := evs[0].Box; b[0]+b[2] > 0.5 {
		t.Errorf("box %v reaches outside the zone", b)
	}
}

func TestZoneSmallerThanAPixel(t *testing.T) {
	d := NewDetector(Config{Zones: [][4]float64{{0.5, 0.5, 0.001, 0.001}}}, tw, th)
	if len(d.zone) != 1 || d.zone[0] != 18*tw+32 {
		t.Errorf("zone pixels %v, want the one under (0.5, 0.5)", d.zone)
	}
}

func TestMinDurationSuppressesBlip(t *testing.T) {
	s := newScene(3)
	cfg := Config{MinDuration: time.Second, Cooldown: time.Second}
	d := NewDetector(cfg, tw, th)
	// one step at frame 10, then still
	blip := moving(20, 10, 10, 11)
	if evs, _ := feedAll(d, 30, func(i int) []byte { return s.draw(0, blip(i)) }); len(evs) != 0 {
		t.Errorf("a one-frame blip under MinDuration 1 s: events %+v", evs)
	}
	// moving for 2 s: Start once it lasted 1 s, dated from its first frame
	d = NewDetector(cfg, tw, th)
	long := moving(10, 10, 10, 20)
	evs, idx := feedAll(d, 30, func(i int) []byte { return s.draw(0, long(i)) })
	if len(evs) == 0 || !evs[0].Start {
		t.Fatalf("events %+v, want a Start", evs)
	}
	if idx[0] != 15 || !evs[0].Time.Equal(at(10)) {
		t.Errorf("Start at frame %d Time %v, want at frame 15 dated frame 10", idx[0], evs[0].Time)
	}
}

func TestSensitivityChangesOutcome(t *testing.T) {
	// a black block moving on a dark flat wall: a 30-level change
	faint := func(i int) block {
		b := moving(20, 10, 5, 15)(i)
		b.level = 0
		return b
	}
	count := func(sens float64) int {
		s := newScene(2)
		for i := range s.bg {
			s.bg[i] = 30 // flat dark wall
		}
		d := NewDetector(Config{Sensitivity: sens}, tw, th)
		evs, _ := feedAll(d, 30, func(i int) []byte { return s.draw(0, faint(i)) })
		return len(evs)
	}
	if n := count(0.2); n != 0 {
		t.Errorf("sensitivity 0.2 (threshold %d levels): %d events for a 30-level change", pixelThreshold(0.2), n)
	}
	if n := count(0.9); n == 0 {
		t.Errorf("sensitivity 0.9 (threshold %d levels): no event for a 30-level change", pixelThreshold(0.9))
	}

	// the share of the picture: a 3×3 block (1 px steps) changes ~0.5 %
	small := func(i int) block { return block{20 + min(max(i-5, 0), 10), 10, 3, 3, 240} }
	countSmall := func(sens float64) int {
		s := newScene(2)
		d := NewDetector(Config{Sensitivity: sens}, tw, th)
		evs, _ := feedAll(d, 30, func(i int) []byte { return s.draw(0, small(i)) })
		return len(evs)
	}
	if n := countSmall(0.5); n != 0 {
		t.Errorf("sensitivity 0.5: %d events for a 3×3 block", n)
	}
	if n := countSmall(1); n == 0 {
		t.Error("sensitivity 1: no event for a 3×3 block")
	}
}

func TestTickAndStopEndMotion(t *testing.T) {
	s := newScene(0)
	d := NewDetector(Config{Cooldown: time.Second}, tw, th)
	blk := moving(20, 10, 1, 3)
	feedAll(d, 3, func(i int) []byte { return s.draw(0, blk(i)) })
	if !d.Active() {
		t.Fatal("no motion")
	}
	if _, ok := d.Tick(at(2).Add(999 * time.Millisecond)); ok {
		t.Error("Tick ended the motion before the cooldown")
	}
	ev, ok := d.Tick(at(2).Add(5 * time.Second))
	if !ok || ev.Start || !ev.Time.Equal(at(2).Add(time.Second)) {
		t.Errorf("Tick after the cooldown: %+v %v, want End at last + cooldown", ev, ok)
	}
	// Stop during motion: End at once, dated now
	d = NewDetector(Config{Cooldown: time.Minute}, tw, th)
	feedAll(d, 3, func(i int) []byte { return s.draw(0, blk(i)) })
	ev, ok = d.Stop(at(3))
	if !ok || ev.Start || !ev.Time.Equal(at(3)) {
		t.Errorf("Stop: %+v %v", ev, ok)
	}
	if _, ok := d.Stop(at(4)); ok {
		t.Error("second Stop emitted again")
	}
}

func TestResetSkipsTheGap(t *testing.T) {
	s := newScene(0)
	d := NewDetector(Config{}, tw, th)
	d.Feed(s.draw(0), at(0))
	d.Reset() // e.g. ffmpeg restarted; meanwhile a light came on
	if _, ok := d.Feed(s.draw(80), at(10)); ok {
		t.Error("the first frame after Reset was compared with the old one")
	}
}

func TestFeedAllocatesNothing(t *testing.T) {
	s := newScene(3)
	d := NewDetector(Config{Zones: [][4]float64{{0, 0, 0.7, 1}}}, tw, th)
	blk := moving(0, 10, 0, 1000)
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		d.Feed(s.draw(0, blk(i)), at(i))
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Feed", allocs)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, ""},
		{Config{Sensitivity: 1, Zones: [][4]float64{{0, 0, 1, 1}, {0.9, 0.9, 0.1, 0.1}}, MinDuration: time.Minute, Cooldown: 10 * time.Minute}, ""},
		{Config{Zones: [][4]float64{{0.7, 0.2, 0.3, 0.8}}}, ""},
		{Config{Sensitivity: -0.1}, "sensitivity"},
		{Config{Sensitivity: 1.5}, "sensitivity"},
		{Config{Zones: make([][4]float64, 17)}, "zones"},
		{Config{Zones: [][4]float64{{0, 0, 0, 0.5}}}, "zones"},
		{Config{Zones: [][4]float64{{0, 0, 0.5, -1}}}, "zones"},
		{Config{Zones: [][4]float64{{0.6, 0, 0.5, 0.5}}}, "zones"},
		{Config{Zones: [][4]float64{{-0.1, 0, 0.5, 0.5}}}, "zones"},
		{Config{MinDuration: -time.Second}, "min_duration_ms"},
		{Config{MinDuration: time.Minute + time.Millisecond}, "min_duration_ms"},
		{Config{Cooldown: -1}, "cooldown_ms"},
		{Config{Cooldown: 11 * time.Minute}, "cooldown_ms"},
	} {
		field, err := tc.cfg.Validate()
		if field != tc.field || (err == nil) != (tc.field == "") {
			t.Errorf("%+v: field %q err %v, want field %q", tc.cfg, field, err, tc.field)
		}
	}
}

func BenchmarkFeed(b *testing.B) {
	s := newScene(3)
	d := NewDetector(Config{}, tw, th)
	frames := [2][]byte{append([]byte(nil), s.draw(0)...), append([]byte(nil), s.draw(0, block{20, 10, 6, 6, 240})...)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Feed(frames[i%2], at(i))
	}
}

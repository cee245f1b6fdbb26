package motion

import (
	"math"
	"time"
)

// Event is a change of a channel's motion state.
type Event struct {
	Start bool // true: motion began; false: it ended
	// Time: Start — when the first changed frame of the motion was seen
	// (MinDuration earlier than the event itself); End — the last changed
	// frame + Cooldown (or when detection stopped, if sooner).
	Time time.Time
	// Score is the fraction of the zones' pixels changed at the peak: up to
	// the Start for a Start, over the whole motion for an End.
	Score float64
	// Box is the bounding box (x, y, w, h in 0..1) of the changed pixels of
	// the peak frame.
	Box [4]float64
}

// Detector turns grey frames into motion events by frame differencing: each
// frame against the previous one, not against a slowly learnt background. A
// background model would need a learning period after every start and keep
// reporting what arrived and stayed (a parked car) until it is absorbed,
// and lighting changes (clouds, auto exposure) would linger in it; the
// difference of consecutive frames forgets everything in one frame. What it
// misses, an object too slow to change pixels between two frames (at 5 fps,
// slower than about a grid pixel per 200 ms) is not what a VMS calls motion.
//
// A pixel changed when its difference exceeds a grey-level threshold; it
// counts only if one of its 4 neighbours changed too (a lone pixel is
// noise or a compression artefact, a moving edge is never one pixel). A
// frame is a motion frame when the counted pixels reach a fraction of the
// zones' pixels. Both thresholds come from Config.Sensitivity.
//
// Pure and not safe for concurrent use; Feed allocates nothing.
type Detector struct {
	cfg      Config
	w, h     int
	zone     []int32 // indices of the zones' pixels, in raster order
	prev     []byte
	changed  []byte // 1: pixel over the threshold this frame (zone pixels only)
	havePrev bool
	pixThr   int
	minCount int

	// motion state
	inRun      bool      // consecutive motion frames are under way
	runStart   time.Time // first changed frame of the run
	active     bool      // Start emitted, End not yet
	lastMotion time.Time
	peak       float64
	peakBox    [4]float64
}

// NewDetector returns a detector for width×height grey frames (one byte a
// pixel, rows without padding). cfg should be valid (Validate); values out
// of range are clamped.
func NewDetector(cfg Config, width, height int) *Detector {
	cfg = cfg.withDefaults()
	cfg.Sensitivity = min(max(cfg.Sensitivity, 0), 1)
	n := width * height
	d := &Detector{
		cfg:     cfg,
		w:       width,
		h:       height,
		prev:    make([]byte, n),
		changed: make([]byte, n),
		pixThr:  pixelThreshold(cfg.Sensitivity),
	}
	d.zone = zoneIndices(cfg.Zones, width, height)
	// at least 2: a counted pixel needs a changed neighbour anyway
	d.minCount = max(2, int(math.Ceil(changedFraction(cfg.Sensitivity)*float64(len(d.zone)))))
	return d
}

// zoneIndices lists the pixels that overlap any zone (a zone smaller than
// a pixel still has one); no zones is the whole picture.
func zoneIndices(zones [][4]float64, w, h int) []int32 {
	if len(zones) == 0 {
		zones = [][4]float64{{0, 0, 1, 1}}
	}
	in := make([]bool, w*h)
	span := func(a, l float64, n int) (int, int) {
		lo := int(math.Floor(a*float64(n) + 1e-6))
		hi := int(math.Ceil((a+l)*float64(n) - 1e-6))
		lo = min(max(lo, 0), n-1)
		hi = min(max(hi, lo+1), n)
		return lo, hi
	}
	for _, z := range zones {
		x0, x1 := span(z[0], z[2], w)
		y0, y1 := span(z[1], z[3], h)
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				in[y*w+x] = true
			}
		}
	}
	var idx []int32
	for i, ok := range in {
		if ok {
			idx = append(idx, int32(i))
		}
	}
	return idx
}

// Feed analyses one frame seen at t (times must not go backwards) and
// returns the event it causes, if any. A frame shorter than width×height
// is ignored.
func (d *Detector) Feed(grey []byte, t time.Time) (Event, bool) {
	if len(grey) < len(d.prev) || len(d.zone) == 0 {
		return Event{}, false
	}
	if !d.havePrev {
		copy(d.prev, grey)
		d.havePrev = true
		return d.Tick(t)
	}
	count, box := d.compare(grey)
	copy(d.prev, grey)
	if count >= d.minCount {
		return d.motion(float64(count)/float64(len(d.zone)), box, t)
	}
	return d.still(t)
}

// compare marks the changed zone pixels and returns how many count (with a
// changed neighbour) and their bounding box.
func (d *Detector) compare(cur []byte) (int, [4]float64) {
	thr := d.pixThr
	for _, i := range d.zone {
		diff := int(cur[i]) - int(d.prev[i])
		if diff < 0 {
			diff = -diff
		}
		if diff > thr {
			d.changed[i] = 1
		} else {
			d.changed[i] = 0
		}
	}
	w, h := d.w, d.h
	count := 0
	x0, y0, x1, y1 := w, h, -1, -1
	for _, i32 := range d.zone {
		i := int(i32)
		if d.changed[i] == 0 {
			continue
		}
		x, y := i%w, i/w
		// pixels outside the zones are never marked, so only zone
		// neighbours count
		if !((x > 0 && d.changed[i-1] != 0) || (x < w-1 && d.changed[i+1] != 0) ||
			(y > 0 && d.changed[i-w] != 0) || (y < h-1 && d.changed[i+w] != 0)) {
			continue
		}
		count++
		x0, x1 = min(x0, x), max(x1, x)
		y0, y1 = min(y0, y), max(y1, y)
	}
	if count == 0 {
		return 0, [4]float64{}
	}
	fw, fh := float64(w), float64(h)
	return count, [4]float64{float64(x0) / fw, float64(y0) / fh, float64(x1-x0+1) / fw, float64(y1-y0+1) / fh}
}

func (d *Detector) motion(score float64, box [4]float64, t time.Time) (Event, bool) {
	if !d.inRun {
		d.inRun, d.runStart = true, t
		if !d.active {
			d.peak = 0
		}
	}
	d.lastMotion = t
	if score > d.peak {
		d.peak, d.peakBox = score, box
	}
	if !d.active && t.Sub(d.runStart) >= d.cfg.MinDuration {
		d.active = true
		return Event{Start: true, Time: d.runStart, Score: d.peak, Box: d.peakBox}, true
	}
	return Event{}, false
}

func (d *Detector) still(t time.Time) (Event, bool) {
	if !d.active {
		d.inRun = false // a blip shorter than MinDuration
		return Event{}, false
	}
	return d.Tick(t)
}

// Tick ends the motion once Cooldown has passed since the last changed
// frame at now; call it when frames stop coming (the source went silent).
func (d *Detector) Tick(now time.Time) (Event, bool) {
	if !d.active || now.Sub(d.lastMotion) < d.cfg.Cooldown {
		return Event{}, false
	}
	return d.end(d.lastMotion.Add(d.cfg.Cooldown)), true
}

// Stop ends the motion at once if it is on (detection stops at now): the
// End's Time is now, or the end of the cooldown if sooner.
func (d *Detector) Stop(now time.Time) (Event, bool) {
	if !d.active {
		return Event{}, false
	}
	end := d.lastMotion.Add(d.cfg.Cooldown)
	if now.Before(end) {
		end = now
	}
	return d.end(end), true
}

// Reset forgets the reference frame (the next frame is compared with
// nothing): after a gap in the frames, the picture may have changed
// without motion. The motion state is kept.
func (d *Detector) Reset() {
	d.havePrev = false
	if !d.active {
		d.inRun = false
	}
}

// Active reports whether motion is on (Start emitted, End not yet).
func (d *Detector) Active() bool { return d.active }

func (d *Detector) end(t time.Time) Event {
	d.active, d.inRun = false, false
	return Event{Start: false, Time: t, Score: d.peak, Box: d.peakBox}
}

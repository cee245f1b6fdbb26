package fakecam

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// View is what a path's picture shows: where its PTZ head points and
// whether something moves in it. Pan and Tilt are ONVIF's generic
// -1..1 (right and up positive), Zoom its generic 0..1 (0 the widest).
//
// The picture of a view is a window onto a still scene (a colour gradient
// with a labelled coordinate grid) centred on (Pan, Tilt), two scene units
// across at zoom 0 and one at zoom 1, with a crosshair at the centre, a
// caption naming the view, and a small running testsrc2 in the
// bottom-right corner so frames keep changing. Motion adds a box crossing
// the picture below the centre, left to right every 2 seconds, for frame
// difference motion detectors to see.
//
// Views are quantized: pan and tilt to steps of 0.25, zoom to 0, 0.5 or
// 1 (out-of-range values are clamped, NaN is 0).
type View struct {
	Pan, Tilt, Zoom float64
	Motion          bool
}

// Quantization of views: pan and tilt in 1/viewPTSteps units, zoom in
// 1/viewZoomSteps.
const (
	viewPTSteps   = 4
	viewZoomSteps = 2
)

// viewKey is a quantized View.
type viewKey struct {
	pan, tilt, zoom int8 // pan and tilt in -4..4 (quarters), zoom in 0..2 (halves)
	motion          bool
}

func quantize(v, lo, hi float64, steps int) int8 {
	if math.IsNaN(v) {
		v = 0
	}
	return int8(math.Round(min(max(v, lo), hi) * float64(steps)))
}

func (v View) key() viewKey {
	return viewKey{
		pan:    quantize(v.Pan, -1, 1, viewPTSteps),
		tilt:   quantize(v.Tilt, -1, 1, viewPTSteps),
		zoom:   quantize(v.Zoom, 0, 1, viewZoomSteps),
		motion: v.Motion,
	}
}

func (k viewKey) view() View {
	return View{
		Pan:    float64(k.pan) / viewPTSteps,
		Tilt:   float64(k.tilt) / viewPTSteps,
		Zoom:   float64(k.zoom) / viewZoomSteps,
		Motion: k.motion,
	}
}

func (k viewKey) String() string {
	return describe(k)
}

// viewVersion changes the view clips' cache file names whenever their
// picture changes (the base clip's clipVersion stays).
const viewVersion = 1

// variantKey names one view's clip: the camera's encoding and the view.
type variantKey struct {
	clip clipKey
	view viewKey
}

func (k variantKey) fileName() string {
	m := 0
	if k.view.motion {
		m = 1
	}
	ext := k.clip.ext()
	base := strings.TrimSuffix(k.clip.fileName(), ext)
	return fmt.Sprintf("%s-view%d-p%+d-t%+d-z%d-m%d%s", base, viewVersion, k.view.pan, k.view.tilt, k.view.zoom, m, ext)
}

// maxVariants bounds the view clips kept in memory by the process (paths
// showing an evicted one keep it until they switch).
const maxVariants = 16

// variants caches view clips like clips does the base ones, but bounded
// (least recently used out first); files in os.TempDir() share encodes
// between processes.
var variants struct {
	sync.Mutex
	m    map[variantKey]*variantEntry
	tick uint64
}

type variantEntry struct {
	done chan struct{}
	c    *clip
	err  error
	used uint64
}

// encodeSlot serializes view encodes in the process: they run in the
// background of live cameras, one ffmpeg at a time.
var encodeSlot = make(chan struct{}, 1)

// loadVariant returns k's clip, from memory, the file cache or a new
// encode (then encoded is true for the caller that ran it).
func loadVariant(ctx context.Context, k variantKey) (c *clip, encoded bool, err error) {
	variants.Lock()
	if variants.m == nil {
		variants.m = make(map[variantKey]*variantEntry)
	}
	variants.tick++
	e, ok := variants.m[k]
	if ok {
		e.used = variants.tick
		variants.Unlock()
		select {
		case <-e.done:
			if e.err != nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				return loadVariant(ctx, k) // the builder's ctx ended, not ours
			}
			return e.c, false, e.err
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	e = &variantEntry{done: make(chan struct{}), used: variants.tick}
	variants.m[k] = e
	evictVariantsLocked()
	variants.Unlock()

	e.c, encoded, e.err = buildVariant(ctx, k)
	if e.err != nil {
		variants.Lock()
		if variants.m[k] == e {
			delete(variants.m, k)
		}
		variants.Unlock()
	}
	close(e.done)
	return e.c, encoded, e.err
}

// evictVariantsLocked drops the least recently used finished entries
// beyond maxVariants.
func evictVariantsLocked() {
	for len(variants.m) > maxVariants {
		var oldest variantKey
		var oe *variantEntry
		for k, e := range variants.m {
			select {
			case <-e.done:
			default:
				continue // being built: someone waits for it
			}
			if oe == nil || e.used < oe.used {
				oldest, oe = k, e
			}
		}
		if oe == nil {
			return
		}
		delete(variants.m, oldest)
	}
}

func buildVariant(ctx context.Context, k variantKey) (*clip, bool, error) {
	select {
	case encodeSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-encodeSlot }()
	return cachedClip(k.fileName(), k.clip.codec, k.clip.width, k.clip.height, func() ([]byte, error) { return encodeVariant(ctx, k) })
}

// boxPeriod is how long the motion box takes to cross the picture; the
// clip's length is a multiple of it, so the loop is seamless.
const boxPeriod = 2

// encodeVariant runs ffmpeg on the still picture renderView draws, looped,
// with a running testsrc2 as the clock and, for motion, a box crossing
// the picture, with the base clip's encoder options.
func encodeVariant(ctx context.Context, k variantKey) ([]byte, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	w, h, fps := k.clip.width, k.clip.height, k.clip.fps
	l := layoutFor(w, h)
	still := renderView(w, h, k.view)
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", fmt.Sprintf("%dx%d", w, h),
		"-framerate", strconv.Itoa(fps), "-i", "pipe:0",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", l.clockW, l.clockH, fps),
	}
	// setsar=1 as testsrc2 has: the SPS's VUI then matches the base clip's.
	graph := fmt.Sprintf("[0:v]loop=loop=-1:size=1:start=0,setpts=N/%d/TB,setsar=1[still];"+
		"[still][1:v]overlay=x=W-w-%d:y=H-h-%d", fps, l.margin, l.margin)
	if k.view.motion {
		// A yellow box with a black border: it contrasts with any
		// part of the scene.
		b := 2 * l.scale // even: pad aligns to the chroma grid
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("color=c=0xFFE040:size=%dx%d:rate=%d", l.boxW-2*b, l.boxH-2*b, fps))
		graph += fmt.Sprintf("[clocked];[2:v]pad=w=%d:h=%d:x=%d:y=%d:color=black[box];"+
			"[clocked][box]overlay=x='-w+(W+w)*mod(t/%d,1)':y=%d", l.boxW, l.boxH, b, b, boxPeriod, l.boxY)
	}
	args = append(args, "-filter_complex", graph+"[out]", "-map", "[out]",
		"-frames:v", strconv.Itoa(clipSeconds*fps))
	return runFFmpeg(ctx, bin, append(args, encoderArgs(k.clip)...), still)
}

// pathView is one path's view, once SetView was called for it.
type pathView struct {
	// Under Camera.vmu.
	want    viewKey
	seq     uint64 // when want was set: the newest is encoded first
	ready   *clip  // want's clip once loaded
	failed  bool   // want's clip could not be made; not retried until want changes
	shown   viewKey
	showing bool // the picture shows shown, else the base clip

	// cur is the clip shown, nil for the base clip, and enc the path's own
	// RTP encoder once it left the base clip (whose packets are encoded
	// once for all paths): written by the pace goroutine.
	cur *clip
	enc videoEncoder
}

// SetView makes path's picture show v (quantized, see View). The picture
// switches at the first IDR after v's clip is ready: at once when it is in
// memory, else after it is read from the cache in os.TempDir() or
// encoded (in the background, one encode at a time in the process; on
// two cores about 0.3 s at 320x180, 0.6 s at 640x360, 1.5 s at
// 1280x720); until then the path keeps its current picture. A path for
// which SetView is never called shows the default testsrc2 clip. Unknown
// paths are ignored. It is cheap and does not block: call it as often as
// the view changes.
func (c *Camera) SetView(path string, v View) {
	i, ok := c.pathIndex[strings.Trim(path, "/")]
	if !ok {
		c.log.Debug("SetView of an unknown path", "path", path)
		return
	}
	k := v.key()
	c.vmu.Lock()
	pv := c.pviews[i]
	if pv != nil && pv.want == k {
		c.vmu.Unlock()
		return
	}
	if pv == nil {
		pv = &pathView{}
		c.pviews[i] = pv
		c.viewsOn.Store(true)
	}
	c.viewSeq++
	pv.want, pv.seq, pv.ready, pv.failed = k, c.viewSeq, nil, false
	if pv.showing && pv.shown == k {
		pv.ready = pv.cur // back to what it shows: nothing to do
	}
	c.vmu.Unlock()
	select {
	case c.viewKick <- struct{}{}:
	default:
	}
}

// ShownView is the (quantized) view path's picture shows now; false while
// it shows the default clip, or for an unknown path.
func (c *Camera) ShownView(path string) (View, bool) {
	i, ok := c.pathIndex[strings.Trim(path, "/")]
	if !ok {
		return View{}, false
	}
	c.vmu.Lock()
	defer c.vmu.Unlock()
	if pv := c.pviews[i]; pv != nil && pv.showing {
		return pv.shown.view(), true
	}
	return View{}, false
}

// viewWorker loads the clips of the views paths want, newest request
// first, until ctx ends.
func (c *Camera) viewWorker(ctx context.Context) {
	defer c.wg.Done()
	warned := false
	for {
		c.vmu.Lock()
		var next *pathView
		for _, pv := range c.pviews {
			if pv != nil && pv.ready == nil && !pv.failed && (next == nil || pv.seq > next.seq) {
				next = pv
			}
		}
		var k viewKey
		if next != nil {
			k = next.want
		}
		c.vmu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-c.viewKick:
			}
			continue
		}

		t0 := time.Now()
		cl, encoded, err := loadVariant(ctx, variantKey{clip: c.key, view: k})
		if ctx.Err() != nil {
			return
		}
		var paths []string
		c.vmu.Lock()
		for i, pv := range c.pviews {
			if pv != nil && pv.want == k && pv.ready == nil {
				paths = append(paths, c.o.Paths[i])
				if err == nil {
					pv.ready = cl
				} else {
					pv.failed = true
				}
			}
		}
		c.vmu.Unlock()
		switch {
		case err != nil:
			c.log.Error("view clip", "view", k.String(), "paths", strings.Join(paths, ","), "err", err)
		case encoded:
			c.log.Info("view clip encoded", "view", k.String(), "paths", strings.Join(paths, ","),
				"took", time.Since(t0).Round(time.Millisecond))
		default:
			c.log.Debug("view clip loaded", "view", k.String(), "paths", strings.Join(paths, ","),
				"took", time.Since(t0).Round(time.Millisecond))
		}
		if err == nil && !warned && (string(cl.vps) != string(c.clip.vps) || string(cl.sps) != string(c.clip.sps) || string(cl.pps) != string(c.clip.pps)) {
			// Readers get them in-band, before every IDR; most decoders cope.
			warned = true
			c.log.Warn("view clips have other parameter sets than the SDP's", "view", k.String())
		}
	}
}

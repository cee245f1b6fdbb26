package fakecam

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// The view tests use 320x180 (the base clip other tests share): variant
// encodes take about 0.4 s each there, run one at a time, and are cached
// in os.TempDir() for the next run.
const viewW, viewH = 320, 180

// waitShown waits until path's picture shows v (quantized).
func waitShown(t *testing.T, c *Camera, path string, v View) {
	t.Helper()
	want := v.key().view()
	t0 := time.Now()
	waitFor(t, 30*time.Second, func() bool { got, ok := c.ShownView(path); return ok && got == want }, path+" showing "+v.key().String())
	t.Logf("%s shows %s after %v", path, v.key(), time.Since(t0).Round(time.Millisecond))
}

// grab decodes n consecutive frames of url with ffmpeg, as gray (luma).
func grab(t *testing.T, url string, n int) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-rtsp_transport", "tcp", "-i", url, "-frames:v", fmt.Sprint(n),
		"-f", "rawvideo", "-pix_fmt", "gray", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg reading %s: %v\n%s", url, err, stderr.String())
	}
	size := viewW * viewH
	if out.Len() != n*size {
		t.Fatalf("ffmpeg gave %d bytes, want %d frames of %d", out.Len(), n, size)
	}
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = out.Bytes()[i*size : (i+1)*size]
	}
	return frames
}

// region is a rectangle of the picture, [x0,x1) x [y0,y1).
type region struct{ x0, y0, x1, y1 int }

// mad is the mean absolute difference of a and b (gray, viewW wide) in r.
func mad(a, b []byte, r region) float64 {
	var sum, n float64
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			i := y*viewW + x
			sum += math.Abs(float64(a[i]) - float64(b[i]))
			n++
		}
	}
	return sum / n
}

var (
	layout = layoutFor(viewW, viewH)

	// still is the picture above the motion box's band: no clock, no box.
	still = region{0, 0, viewW, layout.boxY}
	// band is where the motion box moves (above the clock).
	band = region{0, layout.boxY, viewW, layout.boxY + layout.boxH}
)

// TestViewPicture: a view's picture shows where the head points — two
// positions look clearly different, the same position the same (on any
// path, at any time), and a move changes a path's picture.
func TestViewPicture(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Width: viewW, Height: viewH, Paths: []string{"cam1", "cam2", "cam3"}})
	a := View{Pan: -0.5, Tilt: 0.25}
	b := View{Pan: 0.5, Tilt: -0.25, Zoom: 1}
	c.SetView("cam1", a)
	c.SetView("/cam2/", b)
	if _, ok := c.ShownView("cam3"); ok {
		t.Fatal("cam3 (no SetView) shows a view")
	}
	waitShown(t, c, "cam1", a)
	waitShown(t, c, "cam2", b)

	a1 := grab(t, c.URL("cam1"), 1)[0]
	a2 := grab(t, c.URL("cam1"), 1)[0] // another reader, another moment
	b1 := grab(t, c.URL("cam2"), 1)[0]
	base := grab(t, c.URL("cam3"), 1)[0]
	same, diff, vsBase := mad(a1, a2, still), mad(a1, b1, still), mad(a1, base, still)
	t.Logf("MAD (luma, above the box band): same view %.2f, other view %.2f, default clip %.2f", same, diff, vsBase)
	if same > 2 {
		t.Errorf("two frames of one view differ by %.2f", same)
	}
	if diff < 12 {
		t.Errorf("two views differ by only %.2f", diff)
	}
	if vsBase < 12 {
		t.Errorf("a view and the default clip differ by only %.2f", vsBase)
	}

	// Move cam1 to b: its picture becomes cam2's. Values in between
	// quantize to the same view.
	c.SetView("cam1", View{Pan: 0.49, Tilt: -0.3, Zoom: 0.9})
	waitShown(t, c, "cam1", b)
	moved := grab(t, c.URL("cam1"), 1)[0]
	if d := mad(moved, b1, still); d > 2 {
		t.Errorf("cam1 moved to cam2's view differs from it by %.2f", d)
	}
	if d := mad(moved, a1, still); d < 12 {
		t.Errorf("cam1's picture changed by only %.2f when it moved", d)
	}

	c.SetView("nope", a) // ignored
	if _, ok := c.ShownView("nope"); ok {
		t.Fatal("unknown path shows a view")
	}
}

// TestViewMotion: with motion a box crosses the picture, so consecutive
// frames differ in its band; without, the band stays still.
func TestViewMotion(t *testing.T) {
	t.Parallel()
	if layout.boxY+layout.boxH > viewH-layout.margin-layout.clockH {
		t.Fatal("the motion box's band overlaps the clock")
	}
	c := startCam(t, Options{Width: viewW, Height: viewH, Paths: []string{"moving", "quiet"}})
	c.SetView("moving", View{Motion: true})
	c.SetView("quiet", View{})
	waitShown(t, c, "moving", View{Motion: true})
	waitShown(t, c, "quiet", View{})

	const n = 6
	frames := grab(t, c.URL("moving"), n)
	var bands, stills []string
	for i := 1; i < n; i++ {
		db, ds := mad(frames[i-1], frames[i], band), mad(frames[i-1], frames[i], still)
		bands, stills = append(bands, fmt.Sprintf("%.2f", db)), append(stills, fmt.Sprintf("%.2f", ds))
		if db < 1 {
			t.Errorf("frames %d and %d differ by only %.2f in the box band", i-1, i, db)
		}
		if ds > 2 {
			t.Errorf("frames %d and %d differ by %.2f above the band", i-1, i, ds)
		}
	}
	t.Logf("motion: consecutive frames' MAD in the band %s, above it %s; frames 0 and %d: band %.2f",
		strings.Join(bands, " "), strings.Join(stills, " "), n-1, mad(frames[0], frames[n-1], band))
	if d := mad(frames[0], frames[n-1], band); d < 5 {
		t.Errorf("frames 0 and %d differ by only %.2f in the box band", n-1, d)
	}

	quiet := grab(t, c.URL("quiet"), n)
	for i := 1; i < n; i++ {
		if d := mad(quiet[i-1], quiet[i], band); d > 1 {
			t.Errorf("without motion frames %d and %d differ by %.2f in the box band", i-1, i, d)
		}
	}
	// The two differ only by the box.
	if d := mad(quiet[0], frames[0], still); d > 2 {
		t.Errorf("the same position with and without motion differs by %.2f above the band", d)
	}
}

// auBytes joins an access unit's NALUs for comparison.
func auBytes(au [][]byte) string {
	var b strings.Builder
	for _, n := range au {
		b.Write([]byte{0, 0, 1})
		b.Write(n)
	}
	return b.String()
}

// TestViewKeepsDefaultPathsAndRTP: while one path switches to a view, a
// path without one still sends the base clip byte for byte (SDP SPS/PPS,
// every access unit); the switching path's RTP continues without a gap
// (sequence numbers, timestamps), switches at an IDR, and its view clip
// has the base clip's SPS/PPS.
func TestViewKeepsDefaultPathsAndRTP(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Width: viewW, Height: viewH, Paths: []string{"plain", "ptz"}})
	type rec struct {
		mu   sync.Mutex
		seqs []uint16
		tss  []uint32
		aus  []string
		idr  []bool
	}
	record := func(r *rec) (func(*rtp.Packet), func(*rtp.Packet, [][]byte)) {
		return func(p *rtp.Packet) {
				r.mu.Lock()
				r.seqs = append(r.seqs, p.SequenceNumber)
				r.mu.Unlock()
			}, func(p *rtp.Packet, au [][]byte) {
				r.mu.Lock()
				r.tss = append(r.tss, p.Timestamp)
				r.aus = append(r.aus, auBytes(au))
				r.idr = append(r.idr, h264.IsRandomAccess(au))
				r.mu.Unlock()
			}
	}
	var plain, ptz rec
	onPkt, onAU := record(&plain)
	rp, err := playPackets(t, c.URL("plain"), onPkt, onAU)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.cl.Close()
	onPkt, onAU = record(&ptz)
	rv, err := playPackets(t, c.URL("ptz"), onPkt, onAU)
	if err != nil {
		t.Fatal(err)
	}
	defer rv.cl.Close()
	for _, r := range []*reader{rp, rv} {
		if !bytes.Equal(r.forma.SPS, c.clip.sps) || !bytes.Equal(r.forma.PPS, c.clip.pps) {
			t.Fatal("the SDP's SPS/PPS are not the base clip's")
		}
	}

	time.Sleep(300 * time.Millisecond)
	v := View{Pan: 0.25, Tilt: 0.75, Zoom: 0.5}
	c.SetView("ptz", v)
	waitShown(t, c, "ptz", v)
	time.Sleep(1500 * time.Millisecond) // more than a GOP on the view
	rp.cl.Close()
	rv.cl.Close()

	c.vmu.Lock()
	vclip := c.pviews[1].cur
	c.vmu.Unlock()
	if !bytes.Equal(vclip.sps, c.clip.sps) || !bytes.Equal(vclip.pps, c.clip.pps) {
		t.Errorf("the view clip's SPS/PPS differ from the base clip's:\n%x %x\n%x %x", vclip.sps, vclip.pps, c.clip.sps, c.clip.pps)
	}
	index := func(cl *clip) map[string]int {
		m := make(map[string]int, len(cl.aus))
		for i, au := range cl.aus {
			m[auBytes(au.nalus)] = i
		}
		return m
	}
	baseIdx, viewIdx := index(c.clip), index(vclip) // for finding the first one

	plain.mu.Lock()
	defer plain.mu.Unlock()
	ptz.mu.Lock()
	defer ptz.mu.Unlock()

	// The plain path: every AU is the base clip's next one.
	if len(plain.aus) < 40 {
		t.Fatalf("plain path: %d access units", len(plain.aus))
	}
	j, ok := baseIdx[plain.aus[0]]
	if !ok {
		t.Fatal("plain path: first access unit is not the base clip's")
	}
	for i, au := range plain.aus {
		if au != auBytes(c.clip.aus[(j+i)%len(c.clip.aus)].nalus) {
			t.Fatalf("plain path: access unit %d is not the base clip's %d", i, (j+i)%len(c.clip.aus))
		}
	}

	// The switching path: base clip AUs, then from an IDR on the view's.
	j2, ok := baseIdx[ptz.aus[0]]
	if !ok {
		t.Fatal("ptz path: first access unit is not the base clip's")
	}
	for i := 1; i < len(ptz.seqs); i++ {
		if ptz.seqs[i] != ptz.seqs[i-1]+1 {
			t.Fatalf("ptz path: RTP sequence %d then %d", ptz.seqs[i-1], ptz.seqs[i])
		}
	}
	for i := 1; i < len(ptz.tss); i++ {
		if d := ptz.tss[i] - ptz.tss[i-1]; d != 3600 {
			t.Fatalf("ptz path: RTP timestamp step %d at AU %d", int32(d), i)
		}
	}
	// (Static view frames may be byte-identical P-frames: follow the
	// clip's order rather than look AUs up.)
	switched, vi0 := -1, 0
	for i, au := range ptz.aus {
		if switched < 0 {
			if au == auBytes(c.clip.aus[(j2+i)%len(c.clip.aus)].nalus) {
				continue
			}
			vi, ok := viewIdx[au]
			if !ok {
				t.Fatalf("ptz path: AU %d is neither clip's", i)
			}
			switched, vi0 = i, vi
			if !ptz.idr[i] || !vclip.aus[vi].idr {
				t.Fatalf("ptz path: switched to the view at AU %d, not an IDR", i)
			}
			continue
		}
		if au != auBytes(vclip.aus[(vi0+i-switched)%len(vclip.aus)].nalus) {
			t.Fatalf("ptz path: AU %d is not the view clip's next one", i)
		}
	}
	if switched <= 0 || len(ptz.aus)-switched < 25 {
		t.Fatalf("ptz path: switched at AU %d of %d", switched, len(ptz.aus))
	}
	t.Logf("plain path: %d base AUs; ptz path: %d base AUs then %d of the view, %d RTP packets in sequence",
		len(plain.aus), switched, len(ptz.aus)-switched, len(ptz.seqs))
}

func TestViewQuantization(t *testing.T) {
	t.Parallel()
	for in, want := range map[View]View{
		{}:                                   {},
		{Pan: 0.12, Tilt: -0.13, Zoom: 0.24}: {Pan: 0, Tilt: -0.25, Zoom: 0},
		{Pan: 0.88, Tilt: 0.63, Zoom: 0.26}:  {Pan: 1, Tilt: 0.75, Zoom: 0.5},
		{Pan: -7, Tilt: 7, Zoom: 3, Motion: true}:               {Pan: -1, Tilt: 1, Zoom: 1, Motion: true},
		{Pan: math.NaN(), Tilt: math.Inf(-1), Zoom: math.NaN()}: {Pan: 0, Tilt: -1, Zoom: 0},
	} {
		if got := in.key().view(); got != want {
			t.Errorf("%+v quantizes to %+v, want %+v", in, got, want)
		}
	}
	k := variantKey{clip: clipKey{width: 640, height: 360, fps: 25, bitrate: 2_000_000, gop: 25}, view: View{Pan: -0.5, Tilt: 1, Zoom: 0.5, Motion: true}.key()}
	if got, want := k.fileName(), "argus-fakecam-v1-640x360-25fps-2000000bps-g25-view1-p-2-t+4-z1-m1.h264"; got != want {
		t.Errorf("file name %s, want %s", got, want)
	}
	k.clip.codec = CodecH265
	if got, want := k.fileName(), "argus-fakecam-v1-640x360-25fps-2000000bps-g25-view1-p-2-t+4-z1-m1.h265"; got != want {
		t.Errorf("H265 file name %s, want %s", got, want)
	}
	k.clip.codec = ""
	if got := describe(k.view); got != "PAN -0.5 TILT +1 ZOOM 0.5 MOTION" {
		t.Errorf("caption %q", got)
	}
	// Stills differ between views and not between calls.
	s1, s2 := renderView(viewW, viewH, k.view), renderView(viewW, viewH, k.view)
	s3 := renderView(viewW, viewH, View{Pan: -0.25, Tilt: 1, Zoom: 0.5}.key())
	if !bytes.Equal(s1, s2) || bytes.Equal(s1, s3) || len(s1) != viewW*viewH*3/2 {
		t.Error("renderView is not a deterministic, view-dependent yuv420p frame")
	}
}

// TestVariantCacheBound runs alone (not parallel): it fills the process's
// view clip cache past its bound.
func TestVariantCacheBound(t *testing.T) {
	key := func(i int) variantKey {
		return variantKey{clip: clipKey{width: 2, height: 2, fps: 1, bitrate: 1, gop: 1}, view: viewKey{pan: int8(i)}}
	}
	done := make(chan struct{})
	close(done)
	variants.Lock()
	defer variants.Unlock()
	if variants.m == nil {
		variants.m = make(map[variantKey]*variantEntry)
	}
	for k := range variants.m {
		delete(variants.m, k)
	}
	building := &variantEntry{done: make(chan struct{}), used: 0} // oldest, but being built
	variants.m[key(100)] = building
	for i := range maxVariants + 5 {
		variants.tick++
		variants.m[key(i)] = &variantEntry{done: done, c: &clip{}, used: variants.tick}
		evictVariantsLocked()
	}
	if len(variants.m) != maxVariants {
		t.Fatalf("%d entries cached, bound %d", len(variants.m), maxVariants)
	}
	if variants.m[key(100)] != building {
		t.Fatal("an entry being built was evicted")
	}
	for i := range 6 { // the oldest finished ones went first
		if _, ok := variants.m[key(i)]; ok {
			t.Fatalf("entry %d (old) kept", i)
		}
	}
	if _, ok := variants.m[key(maxVariants+4)]; !ok {
		t.Fatal("newest entry evicted")
	}
	for k := range variants.m {
		delete(variants.m, k)
	}
}

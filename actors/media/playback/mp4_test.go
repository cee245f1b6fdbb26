package playback

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// Two consecutive 10 s segments, the whole of both: the output lasts
// their sum, decodes cleanly, has the bytes Size announces, seeks, and
// serves HTTP Range requests.
func TestMP4TwoSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s0, s1 := fx.a[0], fx.a[1]
	f, err := MP4(ctx, open, []Segment{s0, s1}, s0.Start, s1.End)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := sum(s0, s1)
	if d := f.Duration() - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Duration %v, segments last %v", f.Duration(), want)
	}
	if !f.Start().Equal(s0.Start) || f.End().Sub(s1.End).Abs() > time.Millisecond || f.Truncated() {
		t.Errorf("Start %v End %v Truncated %v, want %v %v false", f.Start(), f.End(), f.Truncated(), s0.Start, s1.End)
	}
	full := readAll(t, f)
	file := writeTemp(t, "out.mp4", full)
	pi := ffprobe(t, file)
	t.Logf("%d bytes, ffprobe %.3f s (segments %.3f s + %.3f s), Duration %v", len(full), pi.Duration, dur(s0).Seconds(), dur(s1).Seconds(), f.Duration())
	if !near(pi.Duration, want.Seconds(), 1) || pi.Codec != "h264" || pi.Width != 640 {
		t.Errorf("ffprobe: %+v, want h264 640 wide lasting %.3f s ±1", pi, want.Seconds())
	}
	decodeClean(t, file)

	// the structure: one init, the fragments of both segments with their
	// samples untouched, sequence numbers and decode times continuous
	p := parseFMP4(t, full)
	ticks := checkTimeline(t, p)
	if got := ticksToDuration(ticks, 90000); got != f.Duration() {
		t.Errorf("fragments last %v, Duration %v", got, f.Duration())
	}
	var orig [][]byte
	for _, s := range []Segment{s0, s1} {
		orig = append(orig, samples(parseFMP4(t, object(t, s.Key)))...)
	}
	got := samples(p)
	if len(got) != len(orig) {
		t.Fatalf("%d samples, segments have %d", len(got), len(orig))
	}
	for i := range got {
		if !bytes.Equal(got[i], orig[i]) {
			t.Fatalf("sample %d differs", i)
		}
	}
	if n := frames(t, file); n != len(orig) {
		t.Errorf("ffmpeg decodes %d frames of %d", n, len(orig))
	}

	// Seek + Read anywhere gives the bytes of the full read
	mid := f.Size() / 2
	if _, err := f.Seek(mid, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, full[mid:]) {
		t.Fatalf("read from the middle: %d bytes, %v, equal %v", len(rest), err, bytes.Equal(rest, full[mid:]))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300_000)
	for range 300 {
		off := rng.Int64N(f.Size())
		n := 1 + rng.IntN(len(buf))
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(20) // small reads across patched fields
		}
		if _, err := f.Seek(off-f.Size(), io.SeekEnd); err != nil {
			t.Fatal(err)
		}
		m, err := io.ReadFull(f, buf[:n])
		if err != nil && !(err == io.ErrUnexpectedEOF && off+int64(m) == f.Size()) {
			t.Fatalf("read %d at %d: %v", n, off, err)
		}
		if !bytes.Equal(buf[:m], full[off:off+int64(m)]) {
			t.Fatalf("read %d at %d differs from the full read", n, off)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("read at the end: %d %v", n, err)
	}

	// over HTTP with http.ServeContent: Content-Length, Range → 206
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := MP4(r.Context(), open, []Segment{s0, s1}, s0.Start, s1.End)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "playback.mp4", time.Time{}, f)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != f.Size() || !bytes.Equal(body, full) {
		t.Errorf("GET: %d, Content-Length %d, %d bytes, equal %v", resp.StatusCode, resp.ContentLength, len(body), bytes.Equal(body, full))
	}
	for _, r := range [][2]int64{{mid, mid + 999_999}, {0, 99}, {f.Size() - 5000, f.Size() - 1}} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantCR := fmt.Sprintf("bytes %d-%d/%d", r[0], r[1], f.Size())
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR ||
			!bytes.Equal(body, full[r[0]:r[1]+1]) {
			t.Errorf("Range %v: %d %q, %d bytes, equal %v", r, resp.StatusCode, resp.Header.Get("Content-Range"), len(body), bytes.Equal(body, full[r[0]:r[1]+1]))
		}
	}
	// ffmpeg reading over HTTP (it seeks with Range requests)
	if pi := ffprobe(t, srv.URL+"/playback.mp4"); !near(pi.Duration, want.Seconds(), 1) {
		t.Errorf("ffprobe over HTTP: %.3f s", pi.Duration)
	}
}

// from inside the second segment: the output starts at the keyframe at
// or before from; to inside a segment: it ends with the fragment holding to.
func TestMP4Cut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s0, s1 := fx.a[0], fx.a[1]
	for _, c := range []struct {
		name     string
		from, to time.Time
		wantEnd  time.Time
	}{
		{"from in the second", s1.Start.Add(4500 * time.Millisecond), s1.End, s1.End},
		{"from before, to inside the first", s0.Start.Add(-time.Minute), s0.Start.Add(5500 * time.Millisecond), time.Time{}},
		{"both inside, across", s0.Start.Add(7300 * time.Millisecond), s1.Start.Add(2200 * time.Millisecond), time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := MP4(ctx, open, []Segment{s0, s1}, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// fakecam has an IDR every second, a fragment per GOP
			if f.Start().After(c.from.Add(time.Millisecond)) && c.from.After(s0.Start) {
				t.Errorf("starts at %v, after from %v", f.Start(), c.from)
			}
			if c.from.After(s0.Start) && c.from.Sub(f.Start()) > 1100*time.Millisecond {
				t.Errorf("starts at %v, more than a GOP before from %v", f.Start(), c.from)
			}
			if !f.End().After(c.to.Add(-time.Millisecond)) && c.to.Before(s1.End) {
				t.Errorf("ends at %v, before to %v", f.End(), c.to)
			}
			if f.End().Sub(c.to) > 1100*time.Millisecond {
				t.Errorf("ends at %v, more than a GOP after to %v", f.End(), c.to)
			}
			if !c.wantEnd.IsZero() && f.End().Sub(c.wantEnd).Abs() > time.Millisecond {
				t.Errorf("ends at %v, want %v", f.End(), c.wantEnd)
			}
			if d := f.End().Sub(f.Start()) - f.Duration(); d.Abs() > time.Millisecond {
				t.Errorf("Start..End %v, Duration %v", f.End().Sub(f.Start()), f.Duration())
			}
			full := readAll(t, f)
			p := parseFMP4(t, full)
			if got := ticksToDuration(checkTimeline(t, p), 90000); got != f.Duration() {
				t.Errorf("fragments last %v, Duration %v", got, f.Duration())
			}
			file := writeTemp(t, "cut.mp4", full)
			pi := ffprobe(t, file)
			t.Logf("%v..%v: starts %v before from, %.3f s (Duration %v)", c.from.Format("15:04:05.000"), c.to.Format("15:04:05.000"),
				c.from.Sub(f.Start()), pi.Duration, f.Duration())
			if !near(pi.Duration, f.Duration().Seconds(), 0.1) || pi.StartTime > 0.05 {
				t.Errorf("ffprobe %+v, Duration %v", pi, f.Duration())
			}
			decodeClean(t, file)
		})
	}
}

// Gaps are closed up: the two 10 s segments, the short one Stop cut and
// one recorded after a gap of seconds play as one continuous timeline.
func TestMP4Gap(t *testing.T) {
	t.Parallel()
	segs := append(slices.Clone(fx.a), fx.b...)
	gap := fx.b[0].Start.Sub(fx.a[2].End)
	f, err := MP4(context.Background(), open, segs, segs[0].Start, segs[len(segs)-1].End)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := sum(segs...)
	full := readAll(t, f)
	checkTimeline(t, parseFMP4(t, full))
	file := writeTemp(t, "gap.mp4", full)
	pi := ffprobe(t, file)
	t.Logf("gap %v; %.3f s for segments of %.3f s", gap, pi.Duration, want.Seconds())
	if gap < time.Second {
		t.Errorf("fixture: gap of %v", gap)
	}
	if (f.Duration()-want).Abs() > time.Millisecond || !near(pi.Duration, want.Seconds(), 0.1) {
		t.Errorf("Duration %v, ffprobe %.3f s, want %v", f.Duration(), pi.Duration, want)
	}
	decodeClean(t, file)
}

// A segment with other codec parameters (another resolution: another
// SPS) ends the output before it.
func TestMP4CodecChange(t *testing.T) {
	t.Parallel()
	s1, c0 := fx.a[1], fx.c[0]
	f, err := MP4(context.Background(), open, []Segment{s1, c0}, s1.Start, c0.End)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Truncated() || f.End().Sub(s1.End).Abs() > time.Millisecond || (f.Duration()-dur(s1)).Abs() > time.Millisecond {
		t.Errorf("Truncated %v, End %v (first segment ends %v), Duration %v", f.Truncated(), f.End(), s1.End, f.Duration())
	}
	file := writeTemp(t, "chg.mp4", readAll(t, f))
	if pi := ffprobe(t, file); pi.Width != 640 || !near(pi.Duration, dur(s1).Seconds(), 0.1) {
		t.Errorf("ffprobe %+v", pi)
	}
	decodeClean(t, file)
	// from End on, the rest plays
	f2, err := MP4(context.Background(), open, []Segment{s1, c0}, f.End(), c0.End)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	file = writeTemp(t, "chg2.mp4", readAll(t, f2))
	if pi := ffprobe(t, file); pi.Width != 320 || f2.Truncated() {
		t.Errorf("after the change: ffprobe %+v, Truncated %v", pi, f2.Truncated())
	}
	decodeClean(t, file)
}

func TestMP4Errors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s0 := fx.a[0]
	if _, err := MP4(ctx, open, []Segment{s0}, s0.End, s0.Start); err != ErrBadRange {
		t.Errorf("reversed range: %v", err)
	}
	if _, err := MP4(ctx, open, []Segment{s0}, s0.End, s0.End.Add(time.Minute)); err != ErrNoRecording {
		t.Errorf("range after the segment: %v", err)
	}
	if _, err := MP4(ctx, open, nil, s0.Start, s0.End); err != ErrNoRecording {
		t.Errorf("no segments: %v", err)
	}
	missing := Segment{Key: "cam1~1/2000/01/01/000000.000-missing0.mp4", Start: s0.Start, End: s0.End}
	if _, err := MP4(ctx, open, []Segment{missing}, s0.Start, s0.End); err == nil {
		t.Error("missing object accepted")
	}
	// a file closed
	f, err := MP4(ctx, open, []Segment{s0}, s0.Start, s0.End)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.Read(make([]byte, 10)); err != ErrClosed {
		t.Errorf("read after Close: %v", err)
	}
}

// VideoCodecs reads the inits of a range: one codec, the tallest picture.
func TestVideoCodecs(t *testing.T) {
	t.Parallel()
	names, height, err := VideoCodecs(context.Background(), open, []Segment{fx.a[1], fx.c[0]})
	if err != nil || !slices.Equal(names, []string{"h264"}) || height != 360 {
		t.Errorf("VideoCodecs = %v, %d, %v; want [h264], 360", names, height, err)
	}
	if _, _, err := VideoCodecs(context.Background(), open, nil); err != ErrNoRecording {
		t.Errorf("no segments: %v", err)
	}
}

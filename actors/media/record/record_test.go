package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/storage/s3fake"
)

func TestSegmentKeyRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 4, 5, 678_900_000, time.FixedZone("x", 8*3600))
	k := segmentKey("cam1~1", start)
	m := keyRE.FindStringSubmatch(k)
	if m == nil {
		t.Fatalf("key %q", k)
	}
	if !strings.HasPrefix(k, "cam1~1/2026/11/21/190405.678-") {
		t.Fatalf("key %q not in UTC", k)
	}
	if err := storage.ValidKey(k); err != nil {
		t.Fatal(err)
	}
	got, ok := parseSegmentKey(k + storage.PartialSuffix)
	if !ok || !got.Equal(start.Truncate(time.Millisecond)) {
		t.Fatalf("parse %q = %v %v", k, got, ok)
	}
	if segmentKey("cam1~1", start) == k {
		t.Fatal("two keys for the same start are equal")
	}
	for _, bad := range []string{"x.mp4", "cam/2026/11/22/0304.mp4", "cam/2026/13/22/030405.000-a.mp4"} {
		if _, ok := parseSegmentKey(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, ticks := range []int64{0, 1, 3599, 3600, 89999, 90000, 123456789, 90000 * 86400 * 400} {
		if got := durationToTicks(ticksToDuration(ticks)); got != ticks {
			t.Errorf("ticks %d → %v → %d", ticks, ticksToDuration(ticks), got)
		}
	}
}

func TestStartValidation(t *testing.T) {
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := relay.NewStream(relay.Key{Device: "cam1", Channel: 1})
	defer src.Close()
	for _, cfg := range []Config{
		{Key: "cam1~1", SegmentDuration: 9 * time.Second, Storage: st},
		{Key: "cam1~1", SegmentDuration: 61 * time.Minute, Storage: st},
		{Key: "../x", SegmentDuration: time.Minute, Storage: st},
		{Key: "Cam1", SegmentDuration: time.Minute, Storage: st},
		{Key: "", SegmentDuration: time.Minute, Storage: st},
		{Key: "cam1~1", SegmentDuration: time.Minute},
	} {
		if r, err := Start(cfg, src); err == nil {
			r.Stop()
			t.Errorf("Start(%+v) accepted", cfg)
		}
	}
	if _, err := Start(Config{Key: "cam1~1", SegmentDuration: time.Minute, Storage: st}, nil); err == nil {
		t.Error("nil source accepted")
	}
	r, err := Start(Config{Key: "cam1~1", SegmentDuration: time.Minute, Storage: st}, src)
	if err != nil {
		t.Fatal(err)
	}
	r.Stop() // nothing recorded: nothing published, no partial
	r.Stop()
	if p, _ := st.Partials(context.Background()); len(p) != 0 {
		t.Fatalf("partials %v", p)
	}
}

// The brief's main case: 10 s segments from fakecam for about 25 s, into a
// local directory and, from the same relay stream at the same time, into
// an S3 bucket over HTTP.
func TestRecordLocalAndS3(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, Log: testLog(t)})
	src := startRelay(t, cam.URL("cam1"), "cam1")

	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := s3fake.ForTest(t, "recordings")
	s3st, err := storage.NewS3(srv.Config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s3st.Check(context.Background()); err != nil {
		t.Fatal(err)
	}

	var localSegs, s3Segs segments
	rl, err := Start(Config{Key: "cam1~1", SegmentDuration: 10 * time.Second, Storage: local, OnSegment: localSegs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Start(Config{Key: "cam1~1", SegmentDuration: 10 * time.Second, Storage: s3st, OnSegment: s3Segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	time.Sleep(25 * time.Second)
	rl.Stop()
	rs.Stop()
	elapsed := time.Since(began)

	for _, c := range []struct {
		name string
		st   storage.Storage
		segs []Segment
	}{{"local", local, localSegs.get()}, {"s3", s3st, s3Segs.get()}} {
		t.Run(c.name, func(t *testing.T) {
			segs := c.segs
			if len(segs) < 3 {
				t.Fatalf("%d segments, want ≥3 (2 full + 1 shorter): %+v", len(segs), segs)
			}
			var total float64
			for i, seg := range segs {
				pi := checkSegment(t, c.st, seg, "cam1~1")
				total += pi.Duration
				t.Logf("%s: %.3f s, %d bytes, %dx%d", seg.Key, pi.Duration, seg.Bytes, pi.Width, pi.Height)
				if i < len(segs)-1 {
					if pi.Duration < 9 || pi.Duration > 11 {
						t.Errorf("segment %d lasts %.3f s, want 10±1", i, pi.Duration)
					}
					next := segs[i+1]
					if d := next.Start.Sub(seg.End); d < -100*time.Millisecond || d > 100*time.Millisecond {
						t.Errorf("segment %d ends at %v, next starts at %v: not contiguous", i, seg.End, next.Start)
					}
				} else if pi.Duration >= 10 || pi.Duration < 1 {
					t.Errorf("last segment lasts %.3f s, want a shorter one", pi.Duration)
				}
			}
			// the cached GOP (≤1 s) comes before the start; the end is cut at Stop
			if total < elapsed.Seconds()-1.5 || total > elapsed.Seconds()+1.5 {
				t.Errorf("recorded %.1f s in %.1f s", total, elapsed.Seconds())
			}
			if p, err := c.st.Partials(context.Background()); err != nil || len(p) != 0 {
				t.Errorf("partials left: %v %v", p, err)
			}
		})
	}

	// what is in the stores is exactly what was reported
	var want []string
	for _, s := range localSegs.get() {
		want = append(want, s.Key)
	}
	var files []string
	filepath.WalkDir(local.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(local.Dir(), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(want)
	if !slices.Equal(files, want) {
		t.Errorf("local files %v, reported %v", files, want)
	}
	want = want[:0]
	for _, s := range s3Segs.get() {
		want = append(want, s.Key)
	}
	var objects []string
	for obj := range s3st.Client().ListObjects(context.Background(), s3st.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		objects = append(objects, obj.Key)
	}
	sort.Strings(want)
	if !slices.Equal(objects, want) {
		t.Errorf("bucket objects %v, reported %v", objects, want)
	}
}

// A camera outage of 4 s: the segment before ends at the outage, the next
// starts after it; both play.
func TestRecordGap(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	addr := cam.Addr()
	src := startRelay(t, cam.URL("cam1"), "cam1")
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var segs segments
	r, err := Start(Config{Key: "gap~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	cam.Close()
	down := time.Now()
	time.Sleep(4 * time.Second)
	startCam(t, fakecam.Options{Listen: addr, Paths: []string{"cam1"}})
	up := time.Now()
	time.Sleep(4500 * time.Millisecond)
	r.Stop()

	got := segs.get()
	if len(got) < 2 {
		t.Fatalf("%d segments, want 2 (before and after the outage)", len(got))
	}
	gapSeen := false
	for i, seg := range got {
		pi := checkSegment(t, st, seg, "gap~1")
		t.Logf("%s: %v..%v %.3f s", seg.Key, seg.Start.Format("15:04:05.000"), seg.End.Format("15:04:05.000"), pi.Duration)
		if seg.Start.Before(down) && seg.End.After(up) {
			t.Errorf("segment %d spans the outage", i)
		}
		if i > 0 && seg.Start.Sub(got[i-1].End) > 3*time.Second {
			gapSeen = true
		}
	}
	if !gapSeen {
		t.Error("no gap of ≥3 s between segments")
	}
	if got[0].DurationMS < 3000 {
		t.Errorf("segment before the outage lasts %d ms", got[0].DurationMS)
	}
	if last := got[len(got)-1]; last.DurationMS < 2500 {
		t.Errorf("segment after the outage lasts %d ms", last.DurationMS)
	}
}

// The source comes back quickly (well under the gap timeout) with another
// description (resolution): a new segment starts at the first IDR with the
// new parameters.
func TestRecordSourceChange(t *testing.T) {
	t.Parallel()
	small := fakecam.Options{Paths: []string{"cam1"}, Width: 320, Height: 240}
	startCam(t, small).Close() // encode its clip now, not during the switch
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	addr := cam.Addr()
	src := startRelay(t, cam.URL("cam1"), "cam1")
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var segs segments
	r, err := Start(Config{Key: "chg~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	cam.Close()
	small.Listen = addr
	startCam(t, small)
	time.Sleep(4 * time.Second)
	r.Stop()

	got := segs.get()
	if len(got) < 2 {
		t.Fatalf("%d segments, want 2", len(got))
	}
	first := checkSegment(t, st, got[0], "chg~1")
	last := checkSegment(t, st, got[len(got)-1], "chg~1")
	for _, seg := range got[1 : len(got)-1] {
		checkSegment(t, st, seg, "chg~1")
	}
	if first.Width != 640 || last.Width != 320 {
		t.Errorf("widths %d then %d, want 640 then 320", first.Width, last.Width)
	}
	t.Logf("gap between the sources: %v", got[len(got)-1].Start.Sub(got[len(got)-2].End))
}

// slowStorage blocks writes while blocked is set.
type slowStorage struct {
	storage.Storage
	blocked atomic.Bool
}

func (s *slowStorage) Create(ctx context.Context, key string) (storage.Writer, error) {
	w, err := s.Storage.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &slowWriter{Writer: w, s: s}, nil
}

type slowWriter struct {
	storage.Writer
	s *slowStorage
}

func (w *slowWriter) Write(p []byte) (int, error) {
	for w.s.blocked.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	return w.Writer.Write(p)
}

// A writer that falls behind: the relay is never blocked, access units are
// dropped up to the next IDR, and what is recorded still plays.
func TestRecordWriterFallsBehind(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	src := startRelay(t, cam.URL("cam1"), "cam1")
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &slowStorage{Storage: local}
	var segs segments
	r, err := Start(Config{Key: "slow~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: segs.add, Log: testLog(t), queueLen: 16}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	st.blocked.Store(true)
	// the relay goes on: a second subscriber keeps receiving
	var others atomic.Int64
	unsub := src.SubscribeVideo(func(relay.Frame) { others.Add(1) })
	// blocked until the queue overflows (the writer blocks at its next
	// fragment, once a second), then a little longer
	for deadline := time.Now().Add(5 * time.Second); r.Dropped() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	unsub()
	st.blocked.Store(false)
	time.Sleep(3 * time.Second)
	r.Stop()

	if others.Load() < 25 {
		t.Errorf("relay delivered %d access units to another subscriber while the writer was stuck", others.Load())
	}
	if r.Dropped() == 0 {
		t.Error("no access unit dropped")
	}
	t.Logf("dropped %d access units", r.Dropped())
	got := segs.get()
	if len(got) < 2 {
		t.Fatalf("%d segments", len(got))
	}
	for _, seg := range got {
		checkSegment(t, local, seg, "slow~1")
	}
}

// onlyStorage hides the PartialPublisher of a storage (the generic copy
// path of Recover).
type onlyStorage struct{ storage.Storage }

// A recorder dies mid-segment (its writer stops without finishing the
// segment, as in a crash): Recover publishes a playable trimmed segment,
// and removes partials with nothing playable in them.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	src := startRelay(t, cam.URL("cam1"), "cam1")
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs segments
	r, err := Start(Config{Key: "crash~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4700 * time.Millisecond)
	r.abandon()
	if n := len(segs.get()); n != 0 {
		t.Fatalf("%d segments published by a crashed recorder", n)
	}

	// what a restarted process finds
	st2, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := st2.Partials(ctx)
	if err != nil || len(parts) != 1 {
		t.Fatalf("partials after the crash: %v %v", parts, err)
	}
	crashed := parts[0]
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(crashed)))
	if err != nil {
		t.Fatal(err)
	}
	boxes := topBoxes(t, data)
	if len(boxes) < 4 || boxes[0].typ != "ftyp" || boxes[1].typ != "moov" {
		t.Fatalf("partial layout %v", boxes)
	}
	initEnd := boxes[1].end
	lastMoof := boxes[len(boxes)-2]
	if lastMoof.typ != "moof" {
		t.Fatalf("partial layout %v", boxes)
	}
	// the crash also tore the write of the next fragment
	torn := append(bytes.Clone(data), data[lastMoof.start:lastMoof.start+(len(data)-lastMoof.start)*6/10]...)
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(crashed)), torn, 0o644); err != nil {
		t.Fatal(err)
	}

	// more crashed partials: init + half a fragment, only part of the init,
	// empty, garbage; and a copy of the good one for the copy path
	writePartial := func(root, key string, b []byte) {
		p := filepath.Join(root, filepath.FromSlash(key+storage.PartialSuffix))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePartial(dir, "crash~1/2026/01/02/030405.000-halffrag.mp4", data[:initEnd+(boxes[2].end-initEnd)/2])
	writePartial(dir, "crash~1/2026/01/02/030406.000-halfinit.mp4", data[:initEnd/2])
	writePartial(dir, "crash~1/2026/01/02/030407.000-emptyyyy.mp4", nil)
	writePartial(dir, "crash~1/2026/01/02/030408.000-garbage0.mp4", bytes.Repeat([]byte("garbage!"), 5000))
	// a good init and fragment, then one whose samples are zeroed (sizes
	// right, data lost): trimmed before the zeroed one
	zeroed := bytes.Clone(data[:boxes[3].end])
	second := bytes.Clone(data[boxes[2].start:boxes[3].end])
	mdatAt := boxes[3].start - boxes[2].start
	clear(second[mdatAt+8:])
	zeroed = append(zeroed, second...)
	writePartial(dir, "crash~1/2026/01/02/030409.000-zeroed00.mp4", zeroed)

	rec, err := RecoverPartials(ctx, st2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published %+v", rec.Published)
	t.Logf("removed %v", rec.Removed)
	if len(rec.Published) != 2 || len(rec.Removed) != 4 {
		t.Fatalf("published %d, removed %d; want 2 and 4", len(rec.Published), len(rec.Removed))
	}
	for _, seg := range rec.Published {
		pi := checkSegment(t, st2, seg, "crash~1")
		switch {
		case seg.Key == storage.FinalKey(crashed):
			if seg.Bytes != int64(len(data)) {
				t.Errorf("recovered %d bytes, want the %d before the torn fragment", seg.Bytes, len(data))
			}
			if pi.Duration < 3 || pi.Duration > 5 {
				t.Errorf("recovered %.3f s of a 4.7 s recording", pi.Duration)
			}
			want, _ := parseSegmentKey(seg.Key)
			if !seg.Start.Equal(want) || seg.Start.IsZero() {
				t.Errorf("start %v", seg.Start)
			}
		case strings.Contains(seg.Key, "zeroed00"):
			if seg.Bytes != int64(boxes[3].end) {
				t.Errorf("zeroed: kept %d bytes, want %d", seg.Bytes, boxes[3].end)
			}
		default:
			t.Errorf("published %s", seg.Key)
		}
	}
	if p, _ := st2.Partials(ctx); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
	// nothing else on disk
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 2 {
		t.Errorf("files left: %v", files)
	}

	// the generic path (copy through Create) gives the same result
	dir2 := t.TempDir()
	writePartial(dir2, storage.FinalKey(crashed), torn)
	l2, _ := storage.NewLocal(dir2)
	pub, err := Recover(ctx, onlyStorage{l2})
	if err != nil || len(pub) != 1 || pub[0].Bytes != int64(len(data)) {
		t.Fatalf("copy path: %+v %v", pub, err)
	}
	wantStart, _ := parseSegmentKey(crashed)
	if pub[0].Key == storage.FinalKey(crashed) || !pub[0].Start.Equal(wantStart) {
		t.Errorf("copy path: key %s start %v", pub[0].Key, pub[0].Start)
	}
	checkSegment(t, l2, pub[0], "crash~1")
	if p, _ := l2.Partials(ctx); len(p) != 0 {
		t.Errorf("copy path: partials left: %v", p)
	}
}

// Crash recovery through S3's spool: the recorder dies, a new S3 value on
// the same spool directory publishes the partial into the bucket.
func TestCrashRecoveryS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	src := startRelay(t, cam.URL("cam1"), "cam1")
	srv := s3fake.ForTest(t, "rec")
	cfg := srv.Config(t.TempDir())
	st, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Start(Config{Key: "crash~2", SegmentDuration: 10 * time.Second, Storage: st, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	r.abandon()

	st2, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := Recover(ctx, st2)
	if err != nil || len(pub) != 1 {
		t.Fatalf("recover: %+v %v", pub, err)
	}
	pi := checkSegment(t, st2, pub[0], "crash~2")
	if pi.Duration < 1.5 {
		t.Errorf("recovered %.3f s", pi.Duration)
	}
	if p, _ := st2.Partials(ctx); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
}

type box struct {
	typ        string
	start, end int
}

func topBoxes(t *testing.T, b []byte) []box {
	var out []box
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("bad box at %d", off)
		}
		out = append(out, box{string(b[off+4 : off+8]), off, off + size})
		off += size
	}
	return out
}

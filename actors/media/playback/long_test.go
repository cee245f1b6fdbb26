package playback

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/storage/s3fake"
)

// longRange links one real 10 s segment under n keys of a new local
// storage, as n consecutive recordings (n = 360: one hour).
func longRange(tb testing.TB, n int) (*storage.Local, []Segment) {
	tb.Helper()
	st, err := storage.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	src, err := fx.st.Path(fx.a[0].Key)
	if err != nil {
		tb.Fatal(err)
	}
	d := dur(fx.a[0])
	start := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	segs := make([]Segment, n)
	for i := range segs {
		s := start.Add(time.Duration(i) * d)
		// a unique key per run: the structure cache is process-wide
		key := fmt.Sprintf("long~1/%d/2030/01/02/%s-%08d.mp4", time.Now().UnixNano(), s.Format("150405.000"), i)
		p, _ := st.Path(key)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Link(src, p); err != nil {
			tb.Fatal(err)
		}
		segs[i] = Segment{Key: key, Start: s, End: s.Add(d), Bytes: fx.a[0].Bytes}
	}
	return st, segs
}

// ttfb measures MP4 until the first 64 KB are read.
func ttfb(tb testing.TB, st *storage.Local, segs []Segment) (time.Duration, *File) {
	t0 := time.Now()
	f, err := MP4(context.Background(), st.Open, segs, segs[0].Start, segs[len(segs)-1].End)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(f, make([]byte, 64<<10)); err != nil {
		tb.Fatal(err)
	}
	return time.Since(t0), f
}

// One hour of 10 s segments (360 files, 3600 fragments, ~935 MB): time
// to first byte with the structure cache empty (every file's fragments
// are located: one small read each) and filled (a player's next Range
// requests); the output's timeline at a segment deep inside.
func TestMP4LongRange(t *testing.T) {
	st, segs := longRange(t, 360)
	cold, f := ttfb(t, st, segs)
	defer f.Close()
	warm, f2 := ttfb(t, st, segs)
	f2.Close()
	cache.reset()
	t0 := time.Now()
	if _, err := Playlist(context.Background(), st.Open, segs, func(s Segment) string { return "/" + s.Key }); err != nil {
		t.Fatal(err)
	}
	plCold := time.Since(t0)
	t0 = time.Now()
	pl, err := Playlist(context.Background(), st.Open, segs, func(s Segment) string { return "/" + s.Key })
	if err != nil {
		t.Fatal(err)
	}
	plTime := time.Since(t0)
	t.Logf("1 h, %d segments, %.0f MB: MP4 time to first byte %v (cache empty), %v (cached); playlist %v (cache empty), %v (cached), %d bytes",
		len(segs), float64(f.Size())/1e6, cold, warm, plCold, plTime, len(pl))
	if (f.Duration() - sum(segs...)).Abs() > time.Millisecond {
		t.Errorf("Duration %v, segments %v", f.Duration(), sum(segs...))
	}
	// the size: the init (with mehd), then each file but its init
	init := int64(683)
	if want := int64(len(f.head)) + int64(len(segs))*(fx.a[0].Bytes-init); f.Size() != want {
		t.Errorf("Size %d, want %d", f.Size(), want)
	}
	// segment 200: sequence numbers and decode times go on
	k := 200
	var p piece
	for _, pc := range f.pieces {
		if pc.seg == k {
			p = pc
			break
		}
	}
	if _, err := f.Seek(p.out, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, p.n)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatal(err)
	}
	var parts parsed
	if err := parts.parts.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	orig := parseFMP4(t, object(t, fx.a[0].Key)).parts
	perSeg := len(orig)
	if len(parts.parts) != perSeg {
		t.Fatalf("%d fragments at segment %d, want %d", len(parts.parts), k, perSeg)
	}
	segTicks := uint64(dur(fx.a[0])) * 90000 / uint64(time.Second)
	for i, part := range parts.parts {
		wantSeq := uint32(k*perSeg + i + 1)
		wantTime := uint64(k)*segTicks + orig[i].Tracks[0].BaseTime
		if part.SequenceNumber != wantSeq || part.Tracks[0].BaseTime != wantTime {
			t.Fatalf("segment %d fragment %d: sequence %d, decode time %d; want %d, %d", k, i, part.SequenceNumber, part.Tracks[0].BaseTime, wantSeq, wantTime)
		}
	}
}

// go test -run '^$' -bench MP4 ./actors/media/playback/
func BenchmarkMP4TTFB(b *testing.B) {
	st, segs := longRange(b, 360)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			cache.reset()
			d, f := ttfb(b, st, segs)
			f.Close()
			b.ReportMetric(float64(d.Microseconds())/1000, "ms-ttfb")
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			_, f := ttfb(b, st, segs)
			f.Close()
		}
	})
	b.Run("read-all", func(b *testing.B) {
		for b.Loop() {
			_, f := ttfb(b, st, segs)
			n, err := io.Copy(io.Discard, f)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
			f.Close()
		}
	})
}

// The same over S3 (an S3-protocol server over HTTP): 30 segments (5
// min); every fragment located with a ranged GET when the cache is empty.
func TestMP4S3(t *testing.T) {
	t.Parallel()
	srv := s3fake.ForTest(t, "recordings")
	st, err := storage.NewS3(srv.Config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := object(t, fx.a[0].Key)
	_, segs := longRange(t, 30)
	for _, s := range segs {
		w, err := st.Create(ctx, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	f, err := MP4(ctx, st.Open, segs, segs[0].Start, segs[len(segs)-1].End)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	cold := time.Since(t0)
	t0 = time.Now()
	full := readAll(t, f)
	readTime := time.Since(t0)
	t.Logf("S3, 5 min, %d segments, %.0f MB: time to first byte %v (cache empty), read all in %v", len(segs), float64(f.Size())/1e6, cold, readTime)
	p := parseFMP4(t, full)
	checkTimeline(t, p)
	if got, want := len(samples(p)), len(segs)*len(samples(parseFMP4(t, data))); got != want {
		t.Errorf("%d samples, want %d", got, want)
	}
	// a seek to a segment deep inside, as a Range request does
	mid := f.Size() * 2 / 3
	if _, err := f.Seek(mid, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1<<20)
	if _, err := io.ReadFull(f, b); err != nil || !bytes.Equal(b, full[mid:mid+int64(len(b))]) {
		t.Errorf("read at %d: %v", mid, err)
	}
}

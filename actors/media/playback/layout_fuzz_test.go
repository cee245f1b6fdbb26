package playback

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"reflect"
	"runtime"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// FuzzScan feeds arbitrary bytes to the segment layout reader (scan, with
// parseInit, parseMoof and eachBox) and to withMehd, the init rewrite that
// MP4 applies to what scan returns. Seeds: segments built here as the
// recorder builds them (mediacommon's fmp4 marshaller), hand-made edge
// boxes, and testdata/fuzz/FuzzScan (real recorder headers, truncated).
//
// Properties: no panic, no allocation out of proportion to the input, and
// by cut (0: the same layout through a ReaderAt and through a plain
// ReadSeeker; odd: the init-only scan agrees with the full one; even below
// the length: a declared size shorter than the object reads exactly that
// prefix; even above: an object shorter than its declared size fails or
// stays within it), and a layout that describes the bytes: the init is the
// object's prefix up to the end of its moov, each fragment starts with a
// moof whose mfhd and tfdt are where the layout says, fragments are
// ordered, disjoint and within the declared size; withMehd's rewrite of
// the init still parses, with one mehd.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s, uint16(0))
	}
	seg := fuzzSegment(f, true, 3)
	f.Add(seg, uint16(1))               // partial scan
	f.Add(seg, uint16(3))               // partial scan, ReadSeeker
	f.Add(seg, uint16(len(seg)-6)&^1)   // the declared size cuts the last mdat
	f.Add(seg, uint16(len(seg)+100)&^1) // the object is shorter than its size
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		size := int64(len(data))

		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		l, err := scanBytes(data, size, true, false)
		runtime.ReadMemStats(&ms1)
		if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 4<<20+64*uint64(len(data)) {
			t.Fatalf("scan of %d bytes allocated %d bytes", len(data), a)
		}

		// one more reading of the same object, chosen by cut (a scan costs
		// about as much as all the checks)
		switch n := int64(cut); {
		case n == 0:
			// a plain ReadSeeker (no ReaderAt) reads the same layout
			l2, err2 := scanBytes(data, size, true, true)
			if (err == nil) != (err2 == nil) || !reflect.DeepEqual(l, l2) {
				t.Fatalf("ReaderAt: %v %v; ReadSeeker: %v %v", l, err, l2, err2)
			}
		case n%2 == 1:
			// the partial scan (init only) agrees with the full one
			lp, errp := scanBytes(data, size, false, n%4 == 1)
			if err == nil && (errp != nil || lp.full || !bytes.Equal(lp.init, l.init) || !reflect.DeepEqual(lp.track, l.track) || lp.size != size) {
				t.Fatalf("full scan %v, partial scan %+v %v", l, lp, errp)
			}
			if errp == nil {
				checkLayout(t, data, lp)
			}
		case n < size:
			// a declared size shorter than the object: exactly that prefix
			lc, errc := scanBytes(data, n, true, n%4 == 0)
			lt, errt := scanBytes(data[:n], n, true, false)
			if (errc == nil) != (errt == nil) || !reflect.DeepEqual(lc, lt) {
				t.Fatalf("declared size %d of %d: %v %v; prefix: %v %v", n, size, lc, errc, lt, errt)
			}
		default:
			// a declared size longer than the object: an error or a layout
			// within the declared size, never a panic
			if lo, erro := scanBytes(data, size+n, true, n%4 == 0); erro == nil {
				checkFrags(t, lo, size+n)
			}
		}
		if err != nil {
			return
		}
		checkLayout(t, data, l)
		if !l.full {
			t.Fatalf("full scan returned a partial layout")
		}
		checkFrags(t, l, size)
		for _, fr := range l.frags {
			checkFrag(t, data, l, fr)
		}
		var dur uint64
		for _, fr := range l.frags {
			dur += fr.dur
		}
		checkMehd(t, l.init, dur, l.track.TimeScale)
	})
}

// scanBytes scans data as an object of the given size.
func scanBytes(data []byte, size int64, full, seekOnly bool) (*layout, error) {
	open := func(context.Context, string) (io.ReadSeekCloser, int64, error) {
		var r io.ReadSeeker = bytes.NewReader(data)
		if seekOnly {
			r = struct{ io.ReadSeeker }{r}
		}
		return fuzzNopCloser{r}, size, nil
	}
	return scan(context.Background(), open, "fuzz", full)
}

type fuzzNopCloser struct{ io.ReadSeeker }

func (fuzzNopCloser) Close() error { return nil }

// checkLayout: the init is data's prefix up to the end of its first moov,
// of one track with a timescale.
func checkLayout(t *testing.T, data []byte, l *layout) {
	t.Helper()
	if l.size != int64(len(data)) {
		t.Fatalf("layout size %d, object %d", l.size, len(data))
	}
	n := len(l.init)
	if n == 0 || n > maxInitSize || !bytes.Equal(l.init, data[:n]) {
		t.Fatalf("init of %d bytes is not the object's prefix", n)
	}
	if l.track == nil || l.track.TimeScale == 0 {
		t.Fatalf("layout without a track: %+v", l.track)
	}
	var last string
	var end int
	if err := eachBox(l.init, 0, n, func(typ string, _, _, e int) error {
		if last == "moov" {
			t.Fatalf("init goes on after its moov")
		}
		last, end = typ, e
		return nil
	}); err != nil || last != "moov" || end != n {
		t.Fatalf("init does not end with its moov: last %q at %d of %d (%v)", last, end, n, err)
	}
}

// checkFrags: fragments are ordered, disjoint, non-empty, after the init
// and within size.
func checkFrags(t *testing.T, l *layout, size int64) {
	t.Helper()
	prev := l.initLen()
	for i, fr := range l.frags {
		if fr.off < prev || fr.end <= fr.off || fr.end > size {
			t.Fatalf("fragment %d [%d, %d) after %d, size %d", i, fr.off, fr.end, prev, size)
		}
		prev = fr.end
	}
}

// checkFrag: the fragment starts with its moof, holds its mfhd and tfdt
// fields where the layout says, and the tfdt read there is the layout's.
func checkFrag(t *testing.T, data []byte, l *layout, fr frag) {
	t.Helper()
	b := data[fr.off:fr.end]
	if len(b) < 8 || string(b[4:8]) != "moof" {
		t.Fatalf("fragment at %d does not start with a moof", fr.off)
	}
	moofEnd := fr.off + int64(binary.BigEndian.Uint32(b))
	if binary.BigEndian.Uint32(b) == 1 {
		moofEnd = fr.off + int64(binary.BigEndian.Uint64(b[8:]))
	}
	tn := int64(4)
	if fr.tfdt64 {
		tn = 8
	}
	if fr.seqAt < fr.off+8 || fr.seqAt+4 > moofEnd || fr.tfdtAt < fr.off+8 || fr.tfdtAt+tn > moofEnd {
		t.Fatalf("fragment [%d, %d): mfhd at %d, tfdt at %d outside its moof (end %d)", fr.off, fr.end, fr.seqAt, fr.tfdtAt, moofEnd)
	}
	var tfdt uint64
	if fr.tfdt64 {
		tfdt = binary.BigEndian.Uint64(data[fr.tfdtAt:])
	} else {
		tfdt = uint64(binary.BigEndian.Uint32(data[fr.tfdtAt:]))
	}
	if tfdt != fr.tfdt {
		t.Fatalf("fragment at %d: tfdt %d in the bytes, %d in the layout", fr.off, tfdt, fr.tfdt)
	}
}

// checkMehd: withMehd returns the init as is, or the same boxes with one
// mvex/mehd (version 1) of the duration, every enclosing size adjusted;
// the result still reads as the same track, and rewriting it again keeps
// its size.
func checkMehd(t *testing.T, init []byte, dur uint64, timescale uint32) {
	t.Helper()
	out := withMehd(init, dur, timescale)
	if bytes.Equal(out, init) {
		return
	}
	var mehds [][]byte
	var walk func(from, to int, depth int) error
	walk = func(from, to, depth int) error {
		return eachBox(out, from, to, func(typ string, _, body, end int) error {
			switch {
			case depth == 0 && typ == "moov", depth == 1 && typ == "mvex":
				return walk(body, end, depth+1)
			case depth == 2 && typ == "mehd":
				mehds = append(mehds, out[body:end])
			}
			return nil
		})
	}
	if err := walk(0, len(out), 0); err != nil {
		t.Fatalf("withMehd output does not parse: %v", err)
	}
	if len(mehds) != 1 || len(mehds[0]) != 12 || mehds[0][0] != 1 {
		t.Fatalf("withMehd output has mehd boxes %x", mehds)
	}
	var ini fmp4.Init
	if err := ini.Unmarshal(bytes.NewReader(out)); err != nil || len(ini.Tracks) != 1 ||
		ini.Tracks[0].TimeScale != timescale {
		t.Fatalf("withMehd output does not read as the init: %v", err)
	}
	if again := withMehd(out, dur+1, timescale); len(again) != len(out) {
		t.Fatalf("withMehd twice: %d bytes, then %d", len(out), len(again))
	}
}

// ---- seeds ----

var fuzzSPS = []byte{
	0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
	0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
}

// fuzzSegment is a segment as the recorder writes it: init, then n
// fragments of 3 samples (the first a keyframe when sync).
func fuzzSegment(tb testing.TB, sync bool, n int) []byte {
	var buf seekablebuffer.Buffer
	ini := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: fuzzSPS, PPS: []byte{0x08}}}}}
	if err := ini.Marshal(&buf); err != nil {
		tb.Fatal(err)
	}
	out := bytes.Clone(buf.Bytes())
	for i := range n {
		var samples []*fmp4.Sample
		for j := range 3 {
			samples = append(samples, &fmp4.Sample{Duration: 3600, PTSOffset: int32(j) * 100,
				IsNonSyncSample: !sync || j > 0, Payload: []byte{0, 0, 0, 2, 0x65, byte(i)}})
		}
		part := fmp4.Part{SequenceNumber: uint32(i + 1), Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: uint64(i) * 10800, Samples: samples}}}
		buf.Reset()
		if err := part.Marshal(&buf); err != nil {
			tb.Fatal(err)
		}
		out = append(out, buf.Bytes()...)
	}
	return out
}

func fuzzBox(typ string, body ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = append(b, typ...)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func fuzzFullBox(typ string, version byte, flags uint32, body ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags)
	return fuzzBox(typ, append([][]byte{vf}, body...)...)
}

func fuzzU32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

// fuzzMoof is a hand-made moof: one traf with tfhd (default-base-is-moof,
// default duration and flags), tfdt (version 1 when v1) and one trun.
func fuzzMoof(seq uint32, v1 bool, trunFlags, count uint32, entries []byte) []byte {
	tfdt := fuzzFullBox("tfdt", 0, 0, fuzzU32(90000))
	if v1 {
		tfdt = fuzzFullBox("tfdt", 1, 0, binary.BigEndian.AppendUint64(nil, 1<<33))
	}
	return fuzzBox("moof",
		fuzzFullBox("mfhd", 0, 0, fuzzU32(seq)),
		fuzzBox("traf",
			fuzzFullBox("tfhd", 0, 0x020000|tfhdDefaultDuration|tfhdDefaultFlags, fuzzU32(1, 3600, 0)),
			tfdt,
			fuzzFullBox("trun", 0, trunFlags, fuzzU32(count), entries)))
}

func scanSeeds(tb testing.TB) [][]byte {
	seg := fuzzSegment(tb, true, 3)
	nonSync := fuzzSegment(tb, false, 1)
	init := fuzzSegment(tb, true, 0)
	mdat := fuzzBox("mdat", []byte{0, 0, 0, 2, 0x65, 0x88})
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	largeFree := cat(fuzzU32(1), []byte("free"), binary.BigEndian.AppendUint64(nil, 24), make([]byte, 8))
	return [][]byte{
		seg,
		nonSync,
		init,
		seg[:len(seg)-3],                      // truncated last mdat
		seg[:len(init)+20],                    // truncated moof
		cat(seg, fuzzBox("free", fuzzU32(0))), // a box after the last fragment
		cat(seg, fuzzBox("mfra", fuzzFullBox("mfro", 0, 0, fuzzU32(16)))),
		cat(init, fuzzMoof(1, false, 0, 5, nil), mdat),                                                             // samples all from defaults
		cat(init, fuzzMoof(1, false, 0, 0xffffffff, nil), mdat),                                                    // 4 billion default samples
		cat(init, fuzzMoof(1, true, trunSampleDuration|trunFirstSampleFlags, 2, fuzzU32(0x10000, 100, 200)), mdat), // tfdt v1
		cat(init, fuzzMoof(1, false, trunSampleDuration, 3, fuzzU32(1, 2)), mdat),                                  // short trun
		cat(init, fuzzMoof(1, false, 0, 1, nil), fuzzMoof(2, false, 0, 1, nil), mdat),                              // moof without mdat
		cat(init, fuzzMoof(1, false, 0, 0, nil), mdat),                                                             // empty fragment
		cat(fuzzMoof(1, false, 0, 1, nil), mdat, init),                                                             // moof before moov
		cat(init, init), // two moovs (and ftyps)
		cat(largeFree, init, fuzzMoof(1, false, 0, 1, nil), mdat),                             // 64-bit box size
		cat(init, fuzzMoof(1, false, 0, 1, nil), fuzzU32(0), []byte("mdat"), []byte{1, 2, 3}), // size 0: to the end
		cat(init, fuzzU32(1), []byte("mdat"), binary.BigEndian.AppendUint64(nil, 1<<62)),      // 64-bit size past the end
		cat(fuzzBox("ftyp", []byte("isom")), fuzzBox("moov")),                                 // a moov without a track
		{},
		[]byte("moov"),
		fuzzU32(0, 0),
	}
}

// TestScanSyntheticSegment: what the fuzz seeds rely on, checked plainly.
func TestScanSyntheticSegment(t *testing.T) {
	seg := fuzzSegment(t, true, 3)
	l, err := scanBytes(seg, int64(len(seg)), true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.frags) != 3 || !l.frags[0].sync || l.frags[0].dur != 3*3600 || l.frags[2].tfdt != 2*10800 || l.track.TimeScale != 90000 {
		t.Fatalf("layout %+v, frags %+v", l, l.frags)
	}
	// a trun with only default samples counts them without walking them
	init := fuzzSegment(t, true, 0)
	seg = bytes.Join([][]byte{init, fuzzMoof(1, false, 0, 0xffffffff, nil), fuzzBox("mdat")}, nil)
	if l, err = scanBytes(seg, int64(len(seg)), true, false); err != nil {
		t.Fatal(err)
	}
	if len(l.frags) != 1 || l.frags[0].dur != 0xffffffff*3600 || !l.frags[0].sync {
		t.Fatalf("frags %+v", l.frags)
	}
}

package playback

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/argus-vms/argus/actors/media/segfile"
)

// MP4 builds ONE fragmented MP4 covering [from, to) out of consecutive
// segments: the first segment's init, then the fragments of every segment
// from the fragment starting with the keyframe at or before from (the
// first keyframe of the range if from falls before it, in a gap or before
// the first segment) to the one containing to.
//
// Gaps between segments are closed up: the output's time is recorded
// time (its decode times run from 0 without a jump). Each fragment keeps
// its bytes; only its moof's sequence number (1, 2, … across the output)
// and its tfdt decode time are rewritten, in place (same sizes), so
// output offsets map 1:1 to segment bytes. The output's init gains an
// mvex/mehd box with the total duration (for players that read it, so
// they need not read to the end to know it).
//
// Codec parameters: the output has a single sample description, the
// first segment's. When a later segment's track differs (SPS, PPS,
// resolution, timescale: a camera reconfigured), the output stops before
// it: see File.Truncated and File.End; the caller may continue with a
// new request from End. (Splicing a second sample description in, or
// relying on in-band parameter sets, is not played reliably by MP4
// players; the HLS playlist switches init at such points instead.)
//
// Every segment's structure is read up front (cached, see the package
// documentation), so the size is known before the first byte. The
// returned File reads segment bytes lazily, through open with ctx: keep
// ctx alive while reading (a request's context) and Close the File.
// segs are the recordings around the range, oldest first (those outside
// [from, to) are ignored).
func MP4(ctx context.Context, open Opener, segs []Segment, from, to time.Time) (*File, error) {
	if !from.Before(to) {
		return nil, ErrBadRange
	}
	var sel []Segment
	for _, s := range segs {
		if s.End.After(from) && s.Start.Before(to) {
			sel = append(sel, s)
		}
	}
	slices.SortStableFunc(sel, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	if len(sel) == 0 {
		return nil, ErrNoRecording
	}
	lays, err := layouts(ctx, open, sel, true)
	if err != nil {
		return nil, err
	}

	f := &File{ctx: ctx, open: open, cur: -1}
	var (
		ref       *layout
		refInit   []byte
		t         uint64 // output decode time of the next segment (video timescale)
		tAudio    uint64 // output decode time where the audio track ends (audio timescale)
		seq       uint32 = 1
		out       int64  // output offset of the next fragment
		timescale uint32
	)
	for i, seg := range sel {
		l := lays[i]
		if len(l.frags) == 0 {
			continue
		}
		ts := l.track.TimeScale
		// wall clock of fragment k
		wall := func(k int) time.Time {
			return seg.Start.Add(ticksToDuration(l.frags[k].tfdt-l.frags[0].tfdt, ts))
		}
		a := -1 // first fragment: a keyframe
		for k, fr := range l.frags {
			if !fr.sync {
				continue
			}
			if a < 0 || (len(f.segs) == 0 && !wall(k).After(from)) {
				a = k
			}
			if len(f.segs) > 0 || wall(k).After(from) {
				break
			}
		}
		b := len(l.frags) - 1 // last fragment: the one holding to
		for b >= 0 && !wall(b).Before(to) {
			b--
		}
		if a < 0 || b < a {
			continue
		}
		if ref == nil {
			ref, refInit, timescale, f.video, f.audio = l, l.init, ts, l.track, l.audio
		} else if !reflect.DeepEqual(ref.tracks, l.tracks) {
			f.truncated = true
			break
		}
		// The segment's output time origin: its first keyframe, or the
		// first audio of the fragments taken if that comes earlier (audio
		// arriving late lands in the next fragment), so that both tracks
		// keep their offset.
		vBase := l.frags[a].tfdt
		base := vBase
		// audioBase is the origin in the audio timescale; aOut where the
		// segment's audio starts in the output: the segment's start, not
		// before where the audio so far ends
		var audioBase, aOut uint64
		first, haveAudio := firstAudio(l.frags[a : b+1])
		if haveAudio {
			base = min(base, rescale(first, l.audio.TimeScale, ts))
			audioBase = rescale(base, ts, l.audio.TimeScale)
			aOut = max(rescale(t, ts, l.audio.TimeScale), tAudio)
		}
		if len(f.segs) == 0 {
			f.start = wall(a)
			f.pieces = append(f.pieces, piece{seg: -1, n: int64(len(refInit))})
			out = int64(len(refInit))
		}
		si := len(f.segs)
		f.segs = append(f.segs, segRef{key: seg.Key, size: l.size})
		for k := a; k <= b; k++ {
			fr := l.frags[k]
			if fr.tfdt < vBase {
				return nil, fmt.Errorf("playback: segment %s: %w: decode times go back", seg.Key, ErrUnsupported)
			}
			n := fr.end - fr.off
			if last := &f.pieces[len(f.pieces)-1]; last.seg == si && last.in+last.n == fr.off {
				last.n += n
			} else {
				f.pieces = append(f.pieces, piece{out: out, seg: si, in: fr.off, n: n})
			}
			shift := out - fr.off
			f.patches = append(f.patches, patch{at: fr.seqAt + shift, val: uint64(seq), n: 4})
			var err error
			if f.patches, err = patchTfdt(f.patches, fr.trafTime, shift, fr.tfdt-base+t); err != nil {
				return nil, fmt.Errorf("playback: segment %s: %w", seg.Key, err)
			}
			if at := fr.audio; at != nil && haveAudio {
				if at.tfdt < audioBase {
					return nil, fmt.Errorf("playback: segment %s: %w: audio before the segment's origin", seg.Key, ErrUnsupported)
				}
				dts := at.tfdt - audioBase + aOut
				if f.patches, err = patchTfdt(f.patches, *at, shift, dts); err != nil {
					return nil, fmt.Errorf("playback: segment %s: %w", seg.Key, err)
				}
				tAudio = max(tAudio, dts+at.dur)
			}
			seq++
			out += n
		}
		last := l.frags[b]
		segEnd := last.tfdt + last.dur - base
		if haveAudio && tAudio > aOut {
			// the audio may outlast the video a little
			segEnd = max(segEnd, rescaleUp(tAudio-aOut, l.audio.TimeScale, ts))
		}
		t += segEnd
		f.end = seg.Start.Add(ticksToDuration(last.tfdt+last.dur-l.frags[0].tfdt, timescale))
	}
	if len(f.segs) == 0 {
		return nil, ErrNoRecording
	}
	f.dur = ticksToDuration(t, timescale)
	f.head = withMehd(refInit, t, timescale)
	if d := int64(len(f.head) - len(refInit)); d != 0 { // everything after the init moves
		f.pieces[0].n = int64(len(f.head))
		for i := 1; i < len(f.pieces); i++ {
			f.pieces[i].out += d
		}
		for i := range f.patches {
			f.patches[i].at += d
		}
		out += d
	}
	f.size = out
	sort.Slice(f.patches, func(i, j int) bool { return f.patches[i].at < f.patches[j].at })
	return f, nil
}

// firstAudio is the earliest audio decode time of frags (ok false: they
// carry no audio).
func firstAudio(frags []frag) (tfdt uint64, ok bool) {
	for _, fr := range frags {
		if fr.audio != nil && (!ok || fr.audio.tfdt < tfdt) {
			tfdt, ok = fr.audio.tfdt, true
		}
	}
	return tfdt, ok
}

// patchTfdt appends the patch setting a track fragment's decode time to
// dts (shift: output offset minus segment offset).
func patchTfdt(patches []patch, tr trafTime, shift int64, dts uint64) ([]patch, error) {
	switch {
	case tr.tfdt64:
		return append(patches, patch{at: tr.tfdtAt + shift, val: dts, n: 8}), nil
	case dts <= math.MaxUint32:
		return append(patches, patch{at: tr.tfdtAt + shift, val: dts, n: 4}), nil
	}
	return nil, fmt.Errorf("%w: 32-bit tfdt overflows", ErrUnsupported)
}

// rescale converts t ticks of timescale from to timescale to, rounding
// down; rescaleUp rounds up.
func rescale(t uint64, from, to uint32) uint64 {
	return t/uint64(from)*uint64(to) + t%uint64(from)*uint64(to)/uint64(from)
}

func rescaleUp(t uint64, from, to uint32) uint64 {
	r := rescale(t, from, to)
	if rescale(r, to, from) < t {
		r++
	}
	return r
}

func ticksToDuration(t uint64, timescale uint32) time.Duration {
	ts := uint64(timescale)
	return time.Duration(t/ts)*time.Second + time.Duration(t%ts*uint64(time.Second)/ts)
}

// withMehd returns init with an mvex/mehd box (version 1) giving the
// fragments' total duration (dur ticks of the track timescale), replacing
// one already there. init is returned as is if its layout is not the
// expected one (32-bit box sizes, an mvhd, an mvex): mehd is optional.
func withMehd(init []byte, dur uint64, timescale uint32) []byte {
	var moovAt, moovEnd, mvexAt, mvexEnd, mehdAt, mehdEnd int
	var movieTS uint32
	_ = eachBox(init, 0, len(init), func(typ string, start, body, end int) error {
		if typ != "moov" || body-start != 8 {
			return nil
		}
		moovAt, moovEnd = start, end
		return eachBox(init, body, end, func(typ string, start, body, end int) error {
			switch typ {
			case "mvhd":
				switch p := init[body:end]; {
				case len(p) >= 24 && p[0] == 1:
					movieTS = binary.BigEndian.Uint32(p[20:])
				case len(p) >= 16 && p[0] == 0:
					movieTS = binary.BigEndian.Uint32(p[12:])
				}
			case "mvex":
				if body-start != 8 {
					return nil
				}
				mvexAt, mvexEnd = start, end
				return eachBox(init, body, end, func(typ string, start, _, end int) error {
					if typ == "mehd" {
						mehdAt, mehdEnd = start, end
					}
					return nil
				})
			}
			return nil
		})
	})
	if moovEnd == 0 || mvexEnd == 0 || movieTS == 0 {
		return init
	}
	mehd := make([]byte, 20)
	binary.BigEndian.PutUint32(mehd, 20)
	copy(mehd[4:], "mehd")
	mehd[8] = 1 // version 1: 64-bit fragment_duration
	// in the movie timescale, rounded up
	md := (dur*uint64(movieTS) + uint64(timescale) - 1) / uint64(timescale)
	binary.BigEndian.PutUint64(mehd[12:], md)

	var body []byte
	if mehdEnd != 0 { // replace it
		body = slices.Concat(init[mvexAt+8:mehdAt], mehd, init[mehdEnd:mvexEnd])
	} else {
		body = slices.Concat(mehd, init[mvexAt+8:mvexEnd])
	}
	grow := len(body) + 8 - (mvexEnd - mvexAt)
	outInit := slices.Concat(init[:mvexAt], []byte{0, 0, 0, 0, 'm', 'v', 'e', 'x'}, body, init[mvexEnd:])
	binary.BigEndian.PutUint32(outInit[mvexAt:], uint32(len(body)+8))
	binary.BigEndian.PutUint32(outInit[moovAt:], uint32(moovEnd-moovAt+grow))
	return outInit
}

// piece is a run of output bytes: the head (seg -1) or bytes of a segment.
type piece struct {
	out int64 // output offset
	seg int   // index in File.segs; -1: File.head
	in  int64 // offset in the segment (or head)
	n   int64
}

// patch replaces n bytes at an output offset with val (big-endian).
type patch struct {
	at  int64
	val uint64
	n   int
}

type segRef struct {
	key  string
	size int64
}

// File is the MP4 built by MP4: an io.ReadSeeker of known size (serve it
// with http.ServeContent) that reads segment bytes as it goes. Not safe
// for concurrent use.
type File struct {
	ctx     context.Context
	open    Opener
	segs    []segRef
	head    []byte
	pieces  []piece
	patches []patch
	size    int64
	dur     time.Duration

	start, end time.Time
	truncated  bool
	video      *segfile.Track
	audio      *segfile.Track

	pos    int64
	cur    int // index of the open segment, -1: none
	r      io.ReadSeekCloser
	rpos   int64 // r's position, -1: unknown
	closed bool
}

// ErrClosed is returned by the methods of a closed File.
var ErrClosed = errors.New("playback: file closed")

// Size is the total size in bytes.
func (f *File) Size() int64 { return f.size }

// Duration is the playing time (the sum of the fragments' durations).
func (f *File) Duration() time.Duration { return f.dur }

// Start is the recorded wall-clock time of the first frame (the keyframe
// at or before the requested from).
func (f *File) Start() time.Time { return f.start }

// End is the recorded wall-clock time where the output ends: the end of
// the fragment holding the requested to, or of the last segment before a
// codec change (Truncated).
func (f *File) End() time.Time { return f.end }

// Video is the output's video track.
func (f *File) Video() *segfile.Track { return f.video }

// Audio is the output's audio track, nil when it has none.
func (f *File) Audio() *segfile.Track { return f.audio }

// Truncated reports that the output stops before the requested end
// because a later segment has other codec parameters (see MP4).
func (f *File) Truncated() bool { return f.truncated }

// Seek implements io.Seeker.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, ErrClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.size
	default:
		return 0, errors.New("playback: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("playback: negative position")
	}
	f.pos = offset
	return offset, nil
}

// Read implements io.Reader.
func (f *File) Read(p []byte) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	if f.pos >= f.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && f.pos < f.size {
		i := sort.Search(len(f.pieces), func(i int) bool { return f.pieces[i].out+f.pieces[i].n > f.pos })
		pc := f.pieces[i]
		rel := f.pos - pc.out
		dst := p[n : n+int(min(int64(len(p)-n), pc.n-rel))]
		var err error
		if pc.seg < 0 {
			copy(dst, f.head[pc.in+rel:])
		} else {
			err = f.readSeg(pc.seg, pc.in+rel, dst)
		}
		if err != nil {
			return n, err
		}
		f.applyPatches(f.pos, dst)
		n += len(dst)
		f.pos += int64(len(dst))
	}
	return n, nil
}

// readSeg fills dst with the bytes of segment si at off.
func (f *File) readSeg(si int, off int64, dst []byte) error {
	sr := f.segs[si]
	if f.cur != si {
		if f.r != nil {
			_ = f.r.Close()
			f.r, f.cur = nil, -1
		}
		r, size, err := f.open(f.ctx, sr.key)
		if err != nil {
			return fmt.Errorf("playback: segment %s: %w", sr.key, err)
		}
		if size != sr.size {
			_ = r.Close()
			return fmt.Errorf("playback: segment %s changed size (%d, was %d)", sr.key, size, sr.size)
		}
		f.r, f.cur, f.rpos = r, si, 0
	}
	if f.rpos != off {
		if _, err := f.r.Seek(off, io.SeekStart); err != nil {
			f.rpos = -1
			return fmt.Errorf("playback: segment %s: %w", sr.key, err)
		}
		f.rpos = off
	}
	m, err := io.ReadFull(f.r, dst)
	f.rpos += int64(m)
	if err != nil {
		f.rpos = -1
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("playback: segment %s: %w", sr.key, err)
	}
	return nil
}

// applyPatches rewrites the patched bytes of b, the output at off.
func (f *File) applyPatches(off int64, b []byte) {
	end := off + int64(len(b))
	i := sort.Search(len(f.patches), func(i int) bool { return f.patches[i].at+int64(f.patches[i].n) > off })
	for ; i < len(f.patches) && f.patches[i].at < end; i++ {
		pt := f.patches[i]
		var v [8]byte
		if pt.n == 8 {
			binary.BigEndian.PutUint64(v[:], pt.val)
		} else {
			binary.BigEndian.PutUint32(v[:], uint32(pt.val))
		}
		for j := max(pt.at, off); j < min(pt.at+int64(pt.n), end); j++ {
			b[j-off] = v[j-pt.at]
		}
	}
}

// Close closes the segment being read. Safe to call more than once.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	if f.r != nil {
		err := f.r.Close()
		f.r = nil
		return err
	}
	return nil
}

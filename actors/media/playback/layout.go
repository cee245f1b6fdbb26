package playback

import (
	"bytes"
	"container/list"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/argus-vms/argus/actors/media/segfile"
)

// Bounds of what a segment may hold (a recorder's init is about 1 KB, a
// moof a few hundred bytes per second of video).
const (
	maxInitSize = 1 << 20
	maxMoofSize = 8 << 20
	readChunk   = 8 << 10 // bytes read at each box visited: a moof and the next header
	// scanWorkers bounds the segments read at the same time.
	scanWorkers = 8
)

// frag is one movie fragment of a segment: its moof, its mdat and any
// box up to the next moof. Offsets are absolute in the segment's object.
// The times are the video track's; audio those of the audio track
// fragment, if the fragment has one.
type frag struct {
	off, end int64 // [moof start, next fragment)
	seqAt    int64 // mfhd sequence_number
	trafTime
	audio *trafTime
	sync  bool // the first video sample is a sync sample (keyframe)
}

// trafTime is where a track fragment's decode time is and its span.
type trafTime struct {
	tfdtAt int64  // tfdt baseMediaDecodeTime
	tfdt   uint64 // decode time of the first sample (track timescale)
	dur    uint64 // sum of the sample durations
	tfdt64 bool   // tfdt version 1 (64-bit field)
}

// layout is what is known of one segment object.
type layout struct {
	size   int64
	init   []byte // ftyp+moov: [0, end of moov)
	tracks []segfile.Track
	track  *segfile.Track // the video track
	audio  *segfile.Track // nil: none
	frags  []frag         // nil until scanned in full
	full   bool           // frags is complete (else only init and size are known)
}

func (l *layout) initLen() int64 { return int64(len(l.init)) }

// cost in the cache: about 64 bytes per unit.
func (l *layout) cost() int { return 1 + len(l.frags) + len(l.init)/64 }

// ---- cache ----

// maxCacheCost bounds the structure cache: 256k units ≈ 16 MB ≈ 70 hours
// of recordings with a fragment a second.
const maxCacheCost = 256 << 10

type cacheEntry struct {
	key string
	l   *layout
}

type layoutCache struct {
	mu   sync.Mutex
	max  int
	cost int
	ll   *list.List // front: most recently used
	m    map[string]*list.Element
	off  bool // tests: no caching
}

var cache = &layoutCache{max: maxCacheCost, ll: list.New(), m: map[string]*list.Element{}}

// get returns the layout cached for key if its size matches (size 0:
// unknown, any) and it is full or full is not needed.
func (c *layoutCache) get(key string, size int64, needFull bool) *layout {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil
	}
	l := e.Value.(*cacheEntry).l
	if (size != 0 && l.size != size) || (needFull && !l.full) {
		return nil
	}
	c.ll.MoveToFront(e)
	return l
}

func (c *layoutCache) put(key string, l *layout) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off || l.cost() > c.max/4 {
		return
	}
	if e, ok := c.m[key]; ok {
		old := e.Value.(*cacheEntry)
		if old.l.full && !l.full && old.l.size == l.size {
			return // keep the richer entry
		}
		c.cost -= old.l.cost()
		old.l = l
		c.cost += l.cost()
		c.ll.MoveToFront(e)
	} else {
		c.m[key] = c.ll.PushFront(&cacheEntry{key: key, l: l})
		c.cost += l.cost()
	}
	for c.cost > c.max {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.m, ce.key)
		c.cost -= ce.l.cost()
	}
}

func (c *layoutCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
	c.cost = 0
}

// ---- reading ----

// layouts returns the layouts of segs (full: every fragment; else at
// least the init), from the cache or reading up to scanWorkers segments
// at a time.
func layouts(ctx context.Context, open Opener, segs []Segment, full bool) ([]*layout, error) {
	out := make([]*layout, len(segs))
	err := forEach(ctx, len(segs), scanWorkers, func(ctx context.Context, i int) error {
		seg := segs[i]
		if l := cache.get(seg.Key, seg.Bytes, full); l != nil {
			out[i] = l
			return nil
		}
		l, err := scan(ctx, open, seg.Key, full)
		if err != nil {
			return fmt.Errorf("playback: segment %s: %w", seg.Key, err)
		}
		cache.put(seg.Key, l)
		out[i] = l
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forEach runs fn(0..n-1) on up to workers goroutines; the first error
// cancels the others' context and is returned.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// scanner reads a segment object at offsets, a chunk at a time.
type scanner struct {
	r      io.ReadSeeker
	ra     io.ReaderAt // r's, if it has one
	pos    int64       // r's position (when ra is nil); -1 unknown
	size   int64
	buf    []byte
	bufOff int64
}

// bytes returns [off, off+n) of the object (off+n ≤ size), reading at
// least readChunk bytes when it is not buffered. The slice is valid until
// the next call.
func (s *scanner) bytes(off int64, n int) ([]byte, error) {
	if off >= s.bufOff && off+int64(n) <= s.bufOff+int64(len(s.buf)) {
		return s.buf[off-s.bufOff:][:n], nil
	}
	want := int64(max(n, readChunk))
	want = min(want, s.size-off)
	if int64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	buf := s.buf[:want]
	s.buf = s.buf[:0]
	var err error
	if s.ra != nil {
		var m int
		m, err = s.ra.ReadAt(buf, off)
		switch {
		case m == len(buf):
			err = nil // ReadAt may report EOF with a full read at the end
		case err == nil || err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	} else {
		if s.pos != off {
			if _, err = s.r.Seek(off, io.SeekStart); err != nil {
				return nil, err
			}
		}
		var m int
		m, err = io.ReadFull(s.r, buf)
		s.pos = off + int64(m)
	}
	if err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("object shorter than its size: %w", err)
	}
	if err != nil {
		s.pos = -1
		return nil, err
	}
	s.buf, s.bufOff = buf, off
	return buf[:n], nil
}

// boxHeader reads the header of the box at off: its type, header length
// and size. ok is false when no complete box starts at off (a truncated
// object ends there).
func (s *scanner) boxHeader(off int64) (typ string, hl, size int64, ok bool, err error) {
	if s.size-off < 8 {
		return "", 0, 0, false, nil
	}
	h, err := s.bytes(off, 8)
	if err != nil {
		return "", 0, 0, false, err
	}
	size, hl, typ = int64(binary.BigEndian.Uint32(h)), 8, string(h[4:8])
	switch size {
	case 0: // to the end of the object
		size = s.size - off
	case 1:
		if s.size-off < 16 {
			return "", 0, 0, false, nil
		}
		h, err := s.bytes(off, 16)
		if err != nil {
			return "", 0, 0, false, err
		}
		size, hl = int64(binary.BigEndian.Uint64(h[8:])), 16
	}
	if size < hl || size > s.size-off {
		return "", 0, 0, false, nil
	}
	return typ, hl, size, true, nil
}

// scan reads a segment's structure: the init, and with full every
// fragment (about one read per fragment: its moof and the next header).
func scan(ctx context.Context, open Opener, key string, full bool) (*layout, error) {
	r, size, err := open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &scanner{r: r, size: size}
	if ra, ok := r.(io.ReaderAt); ok {
		s.ra = ra
	}
	l := &layout{size: size}
	def := map[uint32]trackDefaults{}
	var pending *frag // a moof waiting for its mdat
	off := int64(0)
	for off < size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		typ, hl, bsize, ok, err := s.boxHeader(off)
		if err != nil {
			return nil, err
		}
		if !ok {
			break // a truncated box: the object ends with the last complete fragment
		}
		end := off + bsize
		switch typ {
		case "moov":
			if l.init != nil {
				return nil, fmt.Errorf("%w: two moov boxes", ErrUnsupported)
			}
			if end > maxInitSize {
				return nil, fmt.Errorf("%w: init of %d bytes", ErrUnsupported, end)
			}
			b, err := s.bytes(0, int(end))
			if err != nil {
				return nil, err
			}
			l.init = bytes.Clone(b)
			if err := l.parseInit(def); err != nil {
				return nil, err
			}
			if !full {
				return l, nil
			}
		case "moof":
			if l.init == nil {
				return nil, fmt.Errorf("%w: moof before moov", ErrUnsupported)
			}
			if pending != nil {
				return nil, fmt.Errorf("%w: moof without mdat at %d", ErrUnsupported, pending.off)
			}
			if bsize > maxMoofSize {
				return nil, fmt.Errorf("%w: moof of %d bytes", ErrUnsupported, bsize)
			}
			b, err := s.bytes(off, int(bsize))
			if err != nil {
				return nil, err
			}
			f, err := l.parseMoof(b, off, hl, def)
			if err != nil {
				return nil, fmt.Errorf("moof at %d: %w", off, err)
			}
			pending = &f
		case "mdat":
			if pending != nil {
				pending.end = end
				l.frags = append(l.frags, *pending)
				pending = nil
			}
		case "mfra":
			off = size // the random access index closes the file
			continue
		default:
			// other boxes after a fragment (free, skip, …) go along with it
			if pending == nil && len(l.frags) > 0 {
				l.frags[len(l.frags)-1].end = end
			}
		}
		off = end
	}
	if l.init == nil {
		return nil, fmt.Errorf("%w: no moov", ErrUnsupported)
	}
	l.full = true
	return l, nil
}

// trackDefaults are the trex defaults of a track.
type trackDefaults struct {
	duration, flags uint32
}

// parseInit reads the tracks (codec, timescale: a video track and at
// most one audio track) and their trex defaults (by track ID).
func (l *layout) parseInit(def map[uint32]trackDefaults) error {
	var ini segfile.Init
	if err := ini.Unmarshal(l.init); err != nil {
		return fmt.Errorf("%w: init: %v", ErrUnsupported, err)
	}
	l.tracks, l.track, l.audio = ini.Tracks, ini.Video(), ini.Audio()
	if l.track == nil || len(ini.Tracks) > 2 || (l.audio != nil && len(ini.Tracks) != 2) {
		return fmt.Errorf("%w: %d known tracks, want a video track and at most one audio track", ErrUnsupported, len(ini.Tracks))
	}
	for _, t := range ini.Tracks {
		if t.TimeScale == 0 {
			return fmt.Errorf("%w: track %d without a timescale", ErrUnsupported, t.ID)
		}
	}
	return eachBox(l.init, 0, len(l.init), func(typ string, _, body, end int) error {
		if typ != "moov" {
			return nil
		}
		return eachBox(l.init, body, end, func(typ string, _, body, end int) error {
			if typ != "mvex" {
				return nil
			}
			return eachBox(l.init, body, end, func(typ string, _, body, end int) error {
				b := l.init[body:end]
				if typ == "trex" && len(b) >= 24 {
					def[binary.BigEndian.Uint32(b[4:])] = trackDefaults{
						duration: binary.BigEndian.Uint32(b[12:]),
						flags:    binary.BigEndian.Uint32(b[20:]),
					}
				}
				return nil
			})
		})
	})
}

// eachBox calls fn for each box in b[from:to] with the offsets (in b) of
// its start, its body and its end.
func eachBox(b []byte, from, to int, fn func(typ string, start, body, end int) error) error {
	for p := from; p < to; {
		if to-p < 8 {
			return fmt.Errorf("%w: truncated box header at %d", ErrUnsupported, p)
		}
		size, hl := int(binary.BigEndian.Uint32(b[p:])), 8
		typ := string(b[p+4 : p+8])
		switch size {
		case 0:
			size = to - p
		case 1:
			if to-p < 16 {
				return fmt.Errorf("%w: truncated box header at %d", ErrUnsupported, p)
			}
			s := binary.BigEndian.Uint64(b[p+8:])
			if s > uint64(to-p) {
				return fmt.Errorf("%w: box %q overflows its parent", ErrUnsupported, typ)
			}
			size, hl = int(s), 16
		}
		if size < hl || size > to-p {
			return fmt.Errorf("%w: box %q overflows its parent", ErrUnsupported, typ)
		}
		if err := fn(typ, p, p+hl, p+size); err != nil {
			return err
		}
		p += size
	}
	return nil
}

// Flags of tfhd, trun and samples (ISO/IEC 14496-12 8.8).
const (
	tfhdBaseDataOffset    = 0x01
	tfhdSampleDescIndex   = 0x02
	tfhdDefaultDuration   = 0x08
	tfhdDefaultSize       = 0x10
	tfhdDefaultFlags      = 0x20
	trunDataOffset        = 0x01
	trunFirstSampleFlags  = 0x04
	trunSampleDuration    = 0x100
	trunSampleSize        = 0x200
	trunSampleFlags       = 0x400
	trunSampleCTO         = 0x800
	sampleIsNonSyncSample = 0x10000
)

// parseMoof reads a moof box (b, hl bytes of header) found at off in its
// object: a track fragment of the video track, and at most one of the
// audio track.
func (l *layout) parseMoof(b []byte, off, hl int64, def map[uint32]trackDefaults) (frag, error) {
	f := frag{off: off}
	var haveMfhd, haveVideo bool
	trafs := 0
	err := eachBox(b, int(hl), len(b), func(typ string, _, body, end int) error {
		switch typ {
		case "mfhd":
			if end-body < 8 {
				return fmt.Errorf("%w: short mfhd", ErrUnsupported)
			}
			f.seqAt = off + int64(body) + 4
			haveMfhd = true
		case "traf":
			trafs++
			if trafs > len(l.tracks) {
				return fmt.Errorf("%w: more track fragments than tracks", ErrUnsupported)
			}
			tr, id, sync, err := parseTraf(b, off, body, end, def)
			if err != nil {
				return err
			}
			switch {
			case id == uint32(l.track.ID) && !haveVideo:
				f.trafTime, f.sync, haveVideo = tr, sync, true
			case l.audio != nil && id == uint32(l.audio.ID) && f.audio == nil:
				f.audio = &tr
			default:
				return fmt.Errorf("%w: track fragment of track %d", ErrUnsupported, id)
			}
		}
		return nil
	})
	if err != nil {
		return frag{}, err
	}
	if !haveMfhd || !haveVideo {
		return frag{}, fmt.Errorf("%w: moof without mfhd or a video track fragment", ErrUnsupported)
	}
	return f, nil
}

// parseTraf reads a traf box (b[body:end], b at off in its object): its
// track ID, decode time and span, and whether its first sample is a sync
// sample.
func parseTraf(b []byte, off int64, body, end int, def map[uint32]trackDefaults) (tr trafTime, id uint32, sync bool, err error) {
	var haveTfhd, haveTfdt bool
	var defDur, defFlags uint32
	samples := 0
	err = eachBox(b, body, end, func(typ string, _, body, end int) error {
		p := b[body:end]
		if len(p) < 4 {
			return fmt.Errorf("%w: short %s", ErrUnsupported, typ)
		}
		version, flags := p[0], uint32(p[1])<<16|uint32(p[2])<<8|uint32(p[3])
		switch typ {
		case "tfhd":
			need := 8
			for _, fl := range []struct {
				bit uint32
				n   int
			}{{tfhdBaseDataOffset, 8}, {tfhdSampleDescIndex, 4}, {tfhdDefaultDuration, 4}, {tfhdDefaultSize, 4}, {tfhdDefaultFlags, 4}} {
				if flags&fl.bit != 0 {
					need += fl.n
				}
			}
			if len(p) < need {
				return fmt.Errorf("%w: short tfhd", ErrUnsupported)
			}
			// data offsets must be relative to the moof (the default
			// without base-data-offset-present) for the fragment to move
			if flags&tfhdBaseDataOffset != 0 {
				return fmt.Errorf("%w: tfhd with an absolute base_data_offset", ErrUnsupported)
			}
			id = binary.BigEndian.Uint32(p[4:])
			d := def[id]
			defDur, defFlags = d.duration, d.flags
			q := 8
			if flags&tfhdSampleDescIndex != 0 {
				q += 4
			}
			if flags&tfhdDefaultDuration != 0 {
				defDur = binary.BigEndian.Uint32(p[q:])
				q += 4
			}
			if flags&tfhdDefaultSize != 0 {
				q += 4
			}
			if flags&tfhdDefaultFlags != 0 {
				defFlags = binary.BigEndian.Uint32(p[q:])
			}
			haveTfhd = true
		case "tfdt":
			tr.tfdtAt = off + int64(body) + 4
			if version == 1 {
				if len(p) < 12 {
					return fmt.Errorf("%w: short tfdt", ErrUnsupported)
				}
				tr.tfdt, tr.tfdt64 = binary.BigEndian.Uint64(p[4:]), true
			} else {
				if len(p) < 8 {
					return fmt.Errorf("%w: short tfdt", ErrUnsupported)
				}
				tr.tfdt = uint64(binary.BigEndian.Uint32(p[4:]))
			}
			haveTfdt = true
		case "trun":
			if !haveTfhd {
				return fmt.Errorf("%w: trun before tfhd", ErrUnsupported)
			}
			if len(p) < 8 {
				return fmt.Errorf("%w: short trun", ErrUnsupported)
			}
			count := int(binary.BigEndian.Uint32(p[4:]))
			q := 8
			if flags&trunDataOffset != 0 {
				q += 4
			}
			firstFlags, haveFirst := uint32(0), false
			if flags&trunFirstSampleFlags != 0 {
				if len(p) < q+4 {
					return fmt.Errorf("%w: short trun", ErrUnsupported)
				}
				firstFlags, haveFirst = binary.BigEndian.Uint32(p[q:]), true
				q += 4
			}
			entry := 0
			for _, bit := range []uint32{trunSampleDuration, trunSampleSize, trunSampleFlags, trunSampleCTO} {
				if flags&bit != 0 {
					entry += 4
				}
			}
			if count < 0 || (len(p)-q) < count*entry {
				return fmt.Errorf("%w: short trun", ErrUnsupported)
			}
			for i := range count {
				if entry == 0 && i > 0 {
					// the other samples all take the defaults: count
					// them, do not walk a count no bytes back (2^32)
					tr.dur += uint64(count-i) * uint64(defDur)
					break
				}
				e := p[q+i*entry:]
				dur, sflags := defDur, defFlags
				if flags&trunSampleDuration != 0 {
					dur = binary.BigEndian.Uint32(e)
					e = e[4:]
				}
				if flags&trunSampleSize != 0 {
					e = e[4:]
				}
				if flags&trunSampleFlags != 0 {
					sflags = binary.BigEndian.Uint32(e)
				}
				if samples == 0 && i == 0 {
					if haveFirst {
						sflags = firstFlags
					}
					sync = sflags&sampleIsNonSyncSample == 0
				}
				tr.dur += uint64(dur)
			}
			samples += count
		}
		return nil
	})
	if err != nil {
		return trafTime{}, 0, false, err
	}
	if !haveTfhd || !haveTfdt {
		return trafTime{}, 0, false, fmt.Errorf("%w: traf without tfhd or tfdt", ErrUnsupported)
	}
	if samples == 0 {
		return trafTime{}, 0, false, fmt.Errorf("%w: empty fragment", ErrUnsupported)
	}
	return tr, id, sync, nil
}

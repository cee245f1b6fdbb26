package record

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/argus-vms/argus/actors/media/segfile"
	"github.com/argus-vms/argus/actors/media/storage"
)

// timescale of the video track: the RTP clock of H.264 and H.265.
const timescale = segfile.VideoTimescale

// fragmentTicks: a fragment is closed at each IDR or once it holds this
// much (long GOPs), so a crash loses at most about this much.
const fragmentTicks = timescale

// defaultSampleTicks is the duration given to the last sample of a segment
// when no earlier sample tells the frame interval (25 fps).
const defaultSampleTicks = timescale / 25

// durationToTicks converts a relay PTS to 90 kHz ticks, rounding to the
// nearest tick (the relay computes the Duration from ticks, rounding down).
func durationToTicks(d time.Duration) int64 {
	s := d / time.Second
	rem := d % time.Second
	return int64(s)*timescale + (int64(rem)*timescale+int64(time.Second)/2)/int64(time.Second)
}

func ticksToDuration(t int64) time.Duration {
	return time.Duration(t/timescale)*time.Second + time.Duration(t%timescale)*time.Second/timescale
}

// segmentKey builds <prefix>/<YYYY>/<MM>/<DD>/<HHMMSS.mmm>-<random>.mp4 (UTC).
func segmentKey(prefix string, start time.Time) string {
	u := start.UTC()
	return fmt.Sprintf("%s/%04d/%02d/%02d/%02d%02d%02d.%03d-%s.mp4", prefix,
		u.Year(), int(u.Month()), u.Day(), u.Hour(), u.Minute(), u.Second(),
		u.Nanosecond()/int(time.Millisecond), randomID(8))
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// parseSegmentKey returns the start time encoded in a segment key (or in
// its partial key), millisecond precision.
// SegmentStart is the start time a segment key (or its partial) names.
func SegmentStart(key string) (time.Time, bool) { return parseSegmentKey(key) }

func parseSegmentKey(key string) (time.Time, bool) {
	key = strings.TrimSuffix(key, storage.PartialSuffix)
	parts := strings.Split(key, "/")
	if len(parts) < 5 {
		return time.Time{}, false
	}
	parts = parts[len(parts)-4:]
	name, ok := strings.CutSuffix(parts[3], ".mp4")
	if !ok {
		return time.Time{}, false
	}
	stamp, _, ok := strings.Cut(name, "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006/01/02/150405.000", strings.Join(parts[:3], "/")+"/"+stamp, time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// sample is a sample waiting for its duration (the next sample's DTS).
type sample struct {
	fmp4.Sample
	dts int64 // relative to the segment's first DTS
}

// segment writes one fMP4 file: an init (ftyp+moov) then one moof+mdat
// fragment per GOP (or per second of a longer GOP), which also carries the
// audio of its time span when the segment has an audio track. Timestamps
// start at 0: the first video sample's DTS is the segment's time origin.
type segment struct {
	key      string
	w        storage.Writer
	start    time.Time // wall clock of the first sample
	codec    videoCodec
	entry    codecs.Codec  // the track's sample description (parameter sets)
	startPTS int64         // relay PTS (ticks) of the first sample, for the boundary
	audio    *segmentAudio // nil: video only

	refs     refTracker
	firstDTS int64
	started  bool

	frag     []*fmp4.Sample
	fragBase int64 // DTS of the first sample of frag
	fragDur  int64
	seq      uint32
	pending  *sample
	lastDur  uint32
	samples  int
	duration int64 // ticks, once finished
	bytes    int64
	buf      seekablebuffer.Buffer
}

// newSegment creates the object and writes the init, whose video sample
// description entry comes from the random-access unit starting it (and
// the audio track's from aud, nil: no audio track).
func newSegment(st storage.Storage, key string, start time.Time, pts int64, vc videoCodec, entry codecs.Codec, aud *audioSpec) (*segment, error) {
	s := &segment{
		key:      key,
		start:    start,
		codec:    vc,
		entry:    entry,
		startPTS: pts,
		seq:      1,
		refs:     vc.newRefs(entry),
	}
	init := segfile.Init{Tracks: []segfile.Track{{
		ID:        segfile.VideoTrackID,
		TimeScale: timescale,
		Codec:     entry,
	}}}
	if aud != nil {
		s.audio = &segmentAudio{spec: aud, rate: int64(aud.track.TimeScale)}
		init.Tracks = append(init.Tracks, aud.track)
	}
	if err := init.Marshal(&s.buf); err != nil {
		return nil, fmt.Errorf("fMP4 init: %w", err)
	}
	w, err := st.Create(context.Background(), key)
	if err != nil {
		return nil, err
	}
	s.w = w
	if err := s.write(s.buf.Bytes()); err != nil {
		_ = w.Abort()
		return nil, err
	}
	return s, nil
}

func (s *segment) write(b []byte) error {
	n, err := s.w.Write(b)
	s.bytes += int64(n)
	if err != nil {
		return writeErr{err}
	}
	return nil
}

// sameParams reports whether the random-access unit au carries the
// segment's parameter sets (or none).
func (s *segment) sameParams(au [][]byte) bool { return s.codec.sameParams(au, s.entry) }

// add appends an access unit with its DTS (from the recorder's DTS
// extractor, continuous across segments: the first sample's DTS is the
// segment's time origin, its PTS may come a little later). The sample
// before it gets its duration and is placed in the current fragment,
// which is written out first if au starts a GOP or the fragment is long
// enough.
func (s *segment) add(au [][]byte, pts, dts int64, idr bool) error {
	if !s.started {
		s.started = true
		s.firstDTS = dts
		if s.audio != nil {
			s.audio.firstPresent = ticksToDuration(pts - dts)
		}
	}
	rel := dts - s.firstDTS
	// length-prefixed NALUs: the sample format of H.264 and H.265 alike
	payload, err := h264.AVCC(au).Marshal()
	if err != nil {
		return fmt.Errorf("AVCC: %w", err)
	}
	smp := &sample{
		Sample: fmp4.Sample{
			PTSOffset:       int32(pts - dts),
			IsNonSyncSample: !idr,
			Payload:         payload,
		},
		dts: rel,
	}
	if p := s.pending; p != nil {
		d := max(rel-p.dts, 1)
		p.Duration = uint32(min(d, 1<<31))
		s.lastDur = p.Duration
		s.frag = append(s.frag, &p.Sample)
		s.fragDur += int64(p.Duration)
		if idr || s.fragDur >= fragmentTicks {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	s.pending = smp
	s.samples++
	return nil
}

// addAudio queues an audio unit for the fragment covering its time; it is
// dropped when the segment has no audio track of its codec or u comes
// before the segment's start.
func (s *segment) addAudio(u audioUnit) {
	if s.audio == nil || !s.started || u.codec != s.audio.spec.codec {
		return
	}
	s.audio.place(u, s.start)
}

// flush writes the current fragment.
func (s *segment) flush() error {
	if len(s.frag) == 0 {
		return nil
	}
	part := fmp4.Part{
		SequenceNumber: s.seq,
		Tracks: []*fmp4.PartTrack{{
			ID:       segfile.VideoTrackID,
			BaseTime: uint64(s.fragBase),
			Samples:  s.frag,
		}},
	}
	if s.audio != nil {
		if tr := s.audio.take(s.audio.toAudioTicks(s.fragBase + s.fragDur)); tr != nil {
			part.Tracks = append(part.Tracks, tr)
		}
	}
	s.buf.Reset()
	if err := part.Marshal(&s.buf); err != nil {
		return fmt.Errorf("fMP4 part: %w", err)
	}
	if err := s.write(s.buf.Bytes()); err != nil {
		return err
	}
	s.seq++
	s.fragBase += s.fragDur
	s.fragDur = 0
	clear(s.frag)
	s.frag = s.frag[:0]
	return nil
}

// finish writes what is pending (the last sample lasts as long as the one
// before it) and returns the segment's duration in ticks. The object is
// not closed.
func (s *segment) finish() (int64, error) {
	if p := s.pending; p != nil {
		s.pending = nil
		p.Duration = s.lastDur
		if p.Duration == 0 {
			p.Duration = defaultSampleTicks
		}
		s.frag = append(s.frag, &p.Sample)
		s.fragDur += int64(p.Duration)
	}
	if err := s.flush(); err != nil {
		return 0, err
	}
	return s.fragBase, nil
}

// refChain follows frame_num (ITU-T H.264 7.4.3) to notice lost reference
// pictures: a picture whose frame_num neither repeats nor follows the last
// reference picture's cannot be decoded correctly, nor can anything up to
// the next IDR (a lost packet, or frames of another source after a quick
// reconnection).
type refChain struct {
	log2MaxFrameNum int
	sepColourPlane  bool
	off             bool // gaps allowed by the SPS, or SPS not understood
	prevRef         uint32
}

func (c *refChain) init(sps []byte) {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil || s.GapsInFrameNumValueAllowedFlag {
		c.off = true
		return
	}
	c.log2MaxFrameNum = int(s.Log2MaxFrameNumMinus4) + 4
	c.sepColourPlane = s.SeparateColourPlaneFlag
}

// follows reports whether au continues the chain (IDRs restart it) and
// advances it.
func (c *refChain) follows(au [][]byte) bool {
	if c.off {
		return true
	}
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		typ := h264.NALUType(n[0] & 0x1f)
		if typ != h264.NALUTypeIDR && typ != h264.NALUTypeNonIDR {
			continue
		}
		fn, ok := c.frameNum(n)
		if !ok {
			return true // not parsable: do not judge
		}
		if typ == h264.NALUTypeIDR {
			c.prevRef = fn
			return true
		}
		max := uint32(1) << c.log2MaxFrameNum
		if fn != c.prevRef && fn != (c.prevRef+1)%max {
			return false
		}
		if n[0]&0x60 != 0 { // nal_ref_idc: a reference picture
			c.prevRef = fn
		}
		return true
	}
	return true
}

// frameNum reads frame_num from a slice header.
func (c *refChain) frameNum(nalu []byte) (uint32, bool) {
	buf := h264.EmulationPreventionRemove(nalu[1:min(len(nalu), 24)])
	pos := 0
	for range 3 { // first_mb_in_slice, slice_type, pic_parameter_set_id
		if _, err := bits.ReadGolombUnsigned(buf, &pos); err != nil {
			return 0, false
		}
	}
	if c.sepColourPlane {
		if _, err := bits.ReadBits(buf, &pos, 2); err != nil {
			return 0, false
		}
	}
	v, err := bits.ReadBits(buf, &pos, c.log2MaxFrameNum)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// Package record records the video (H.264, H.265) and audio (AAC, Opus,
// G.711) of a relay stream as fMP4 segment files (actors/media/segfile) in
// a storage.Storage.
//
// Each segment is playable on its own: an init (ftyp+moov with the
// parameter sets) then one moof+mdat fragment per GOP (per second for
// longer GOPs), a video track at 90 kHz whose DTS start at 0 (with
// B-frames the first picture is presented a frame or two later) and,
// when the source has audio and Config.Audio is set, an audio track whose
// units are placed by their wall-clock time relative to the first picture
// and written in the fragment covering their time. A segment starts on an IDR
// and ends at the first IDR at or after SegmentDuration, at a gap in the
// source (no access unit for more than GapTimeout, a timestamp jump, new
// codec parameters, access units dropped because the writer fell behind)
// and on Stop. Pictures whose references were lost (a quick reconnection
// of the source, a lost frame: frame_num or timestamps jump) are skipped
// up to the next IDR, so that segments decode without errors. Keys are
// <Config.Key>/<YYYY>/<MM>/<DD>/<HHMMSS.mmm>-<random>.mp4 (UTC start).
//
// While a segment is written it is a partial object (storage.Storage
// Create): after a crash, Recover publishes its complete fragments or
// removes it.
package record

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
)

// Limits and timings.
const (
	MinSegmentDuration = 10 * time.Second
	MaxSegmentDuration = time.Hour
	// GapTimeout: a source silent (or whose timestamps jump) for longer than
	// this ends the current segment; the next one starts at the next IDR.
	GapTimeout = 2 * time.Second
	// queueLen bounds the access units waiting for the writer (about 20 s
	// at 25 fps); beyond it access units are dropped until the next IDR.
	queueLen = 512
)

// Config of a Recorder.
type Config struct {
	// Key is the aggregate id (like "cam1~1"), the prefix of the storage
	// keys; it must be a valid storage key.
	Key string
	// SegmentDuration, 10s..1h: segments are cut at the first IDR at or
	// after this much since their start.
	SegmentDuration time.Duration
	Storage         storage.Storage
	// OnSegment is called after each segment is durable (published), in
	// order, from the recorder's closing goroutine (it may block briefly:
	// later segments wait).
	OnSegment func(Segment)
	// Log receives the recorder's events; nil discards them.
	Log *slog.Logger
	// Audio records the source's audio track too, when it has one of a
	// recordable codec (the source must be an AudioSource).
	Audio bool

	// Backlog is room for access units delivered at once at the start (a
	// pre-roll) on top of the writer's usual queue.
	Backlog  int
	queueLen int // tests: the writer's queue length (0: queueLen)
}

// Segment is a published segment.
type Segment struct {
	Key        string    // storage key
	Start, End time.Time // wall clock (from the access units' NTP time); End = Start + duration
	DurationMS int64
	Bytes      int64 // object size
	// Unpublished: its upload failed; the object is still the partial
	// Key+storage.PartialSuffix, which storage.PartialPublisher can publish
	// later (the caller retries; a restart's Recover publishes it too).
	Unpublished bool
}

type auItem struct {
	audio  *relay.AudioFrame // an audio frame (the other fields unused)
	au     [][]byte
	codec  relay.Codec
	random bool
	pts    time.Duration
	ntp    time.Time
	resync bool // access units were dropped just before this one (an IDR)
}

// Recorder records one relay stream until Stop.
type Recorder struct {
	cfg    Config
	segDur int64 // ticks
	log    *slog.Logger

	in      chan auItem
	unsub   func()
	stopCh  chan struct{}
	crashCh chan struct{}
	done    chan struct{}
	closeQ  chan *segment
	closed  chan struct{}
	stop    sync.Once

	dropped atomic.Uint64

	// the subscriber callback's state (calls are serialized by the relay)
	resync bool

	// the writer goroutine's state
	seg        *segment
	lastRecv   time.Time
	maxPTS     int64 // highest PTS seen (ticks)
	havePTS    bool
	steps      stepWindow
	dtsx       dtsExtractor // continuous across segments cut at their duration
	dtsOK      bool
	waitIDR    bool
	logged     map[string]time.Time
	dropLogged uint64
	audioSrc   AudioSource // nil: video only
	audioSpec  *audioSpec  // of the last audio frame
	audioWait  []audioUnit // audio while no segment is open

	stats struct {
		segments atomic.Int64
		bytes    atomic.Int64
	}
}

// Source is what a recorder records: a relay stream, or a PreRoll of one.
type Source interface {
	SubscribeVideo(fn func(relay.Frame)) (unsubscribe func())
}

// AudioSource is a Source with audio.
type AudioSource interface {
	Source
	// Audio describes the audio track (ok false: none).
	Audio() (relay.AudioTrack, bool)
	SubscribeAudio(fn func(relay.AudioFrame)) (unsubscribe func())
}

// Start subscribes to src's access units and records them until Stop.
func Start(cfg Config, src Source) (*Recorder, error) {
	if src == nil {
		return nil, errors.New("record: nil source stream")
	}
	if cfg.Storage == nil {
		return nil, errors.New("record: nil storage")
	}
	if err := storage.ValidKey(cfg.Key); err != nil || storage.IsPartial(cfg.Key) {
		return nil, fmt.Errorf("record: key %q is not a valid storage key prefix", cfg.Key)
	}
	if cfg.SegmentDuration < MinSegmentDuration || cfg.SegmentDuration > MaxSegmentDuration {
		return nil, fmt.Errorf("record: segment duration %v out of %v..%v", cfg.SegmentDuration, MinSegmentDuration, MaxSegmentDuration)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	qlen := queueLen
	if cfg.queueLen > 0 {
		qlen = cfg.queueLen
	}
	qlen += max(cfg.Backlog, 0)
	r := &Recorder{
		cfg:     cfg,
		segDur:  durationToTicks(cfg.SegmentDuration),
		log:     log.With("component", "recorder", "key", cfg.Key),
		in:      make(chan auItem, qlen),
		stopCh:  make(chan struct{}),
		crashCh: make(chan struct{}),
		done:    make(chan struct{}),
		closeQ:  make(chan *segment, 4),
		closed:  make(chan struct{}),
		logged:  make(map[string]time.Time),
	}
	go r.closer()
	go r.run()
	var unsubAudio func()
	if as, ok := src.(AudioSource); ok && cfg.Audio {
		// before the video: a pre-roll delivers its audio first, kept
		// until the first segment opens
		r.audioSrc = as
		unsubAudio = as.SubscribeAudio(r.onAudio)
	}
	unsubVideo := src.SubscribeVideo(r.onAU)
	r.unsub = func() {
		unsubVideo()
		if unsubAudio != nil {
			unsubAudio()
		}
	}
	r.log.Info("recording started", "segment_duration", cfg.SegmentDuration)
	return r, nil
}

// onAU runs on the relay's write path: it never blocks. When the writer
// falls behind, access units are dropped up to the next IDR.
func (r *Recorder) onAU(f relay.Frame) {
	if r.resync && !f.Random {
		r.dropped.Add(1)
		return
	}
	select {
	case r.in <- auItem{au: f.NALUs, codec: f.Codec, random: f.Random, pts: f.PTS, ntp: f.NTP, resync: r.resync}:
		r.resync = false
	default:
		r.dropped.Add(1)
		r.resync = true
	}
}

// onAudio runs on the relay's write path: it never blocks (audio is
// dropped when the writer falls behind; video goes on).
func (r *Recorder) onAudio(f relay.AudioFrame) {
	select {
	case r.in <- auItem{audio: &f}:
	default:
		r.dropped.Add(1)
	}
}

// Stop unsubscribes, writes out and publishes the current segment (it has
// at least one frame: segments start with one), waits for the segments
// being published (uploads) and returns. Safe to call more than once.
func (r *Recorder) Stop() {
	r.stop.Do(func() {
		r.unsub()
		close(r.stopCh)
		<-r.done
		close(r.closeQ)
		<-r.closed
		r.log.Info("recording stopped", "segments", r.stats.segments.Load(),
			"bytes", r.stats.bytes.Load(), "dropped_access_units", r.dropped.Load())
	})
}

// Dropped is the number of access units dropped because the writer fell
// behind.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// abandon stops the recorder as a crash would: the segment being written
// is neither finished nor closed (its partial object stays). Tests only.
func (r *Recorder) abandon() {
	r.stop.Do(func() {
		r.unsub()
		close(r.crashCh)
		<-r.done
		close(r.closeQ)
		<-r.closed
	})
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(GapTimeout / 8)
	defer tick.Stop()
	for {
		select {
		case it := <-r.in:
			r.handle(it)
		case now := <-tick.C:
			if r.seg != nil && len(r.in) == 0 && now.Sub(r.lastRecv) > GapTimeout {
				r.finalize("no video for "+GapTimeout.String(), false)
			}
			if n := r.dropped.Load(); n != r.dropLogged && r.every("drop", 10*time.Second) {
				r.log.Warn("recorder falling behind: access units dropped up to the next IDR",
					"dropped_total", n, "dropped_since_last_warning", n-r.dropLogged)
				r.dropLogged = n
			}
		case <-r.crashCh:
			return
		case <-r.stopCh:
		drain:
			for {
				select {
				case it := <-r.in:
					r.handle(it)
				default:
					break drain
				}
			}
			r.finalize("stop", false)
			return
		}
	}
}

func (r *Recorder) handle(it auItem) {
	if it.audio != nil {
		r.handleAudio(*it.audio)
		return
	}
	r.lastRecv = time.Now()
	pts := durationToTicks(it.pts)
	idr := it.random
	vc := codecOf(it.codec)
	if vc == nil {
		r.warn("codec", "video codec not recordable", "codec", it.codec)
		return
	}

	// PTS are in presentation order (B-frames go back a little): compare
	// with the highest one seen.
	gap := durationToTicks(GapTimeout)
	switch {
	case !r.havePTS:
		r.maxPTS, r.havePTS = pts, true
	case pts < r.maxPTS-gap || pts > r.maxPTS+gap:
		// a new source description (PTS restart) or an outage
		r.finalize("timestamp discontinuity", false)
		r.waitIDR = false
		r.maxPTS = pts
		r.steps = stepWindow{}
	case pts > r.maxPTS:
		step := pts - r.maxPTS
		if ref := r.steps.max(); ref > 0 && 2*step > 5*ref && !idr {
			// frames missing (a quick reconnection of the source, losses):
			// references may be lost, go on at the next IDR
			r.waitIDR = true
		}
		r.steps.add(step)
		r.maxPTS = pts
	}

	if it.resync {
		r.finalize("access units dropped", false)
		r.waitIDR = false
	}
	if r.seg != nil && vc != r.seg.codec {
		r.finalize("video codec changed", false)
		r.waitIDR = false
	}
	if r.seg != nil && idr {
		switch {
		case !r.seg.sameParams(it.au):
			r.finalize("codec parameters changed", false)
		case pts-r.seg.startPTS >= r.segDur:
			r.finalize("duration reached", true)
		}
	}
	if r.seg == nil {
		if !idr {
			return // a segment starts on an IDR
		}
		entry := vc.sampleEntry(it.au)
		if entry == nil {
			r.warn("idr", "random access point without parameter sets: waiting for the next one", "codec", it.codec)
			return
		}
		seg, err := newSegment(r.cfg.Storage, segmentKey(r.cfg.Key, it.ntp), it.ntp, pts, vc, entry, r.currentAudio())
		if err != nil {
			r.warn("create", "cannot create segment", "err", err)
			return
		}
		r.seg = seg
		r.waitIDR = false
		r.log.Debug("segment started", "segment", seg.key)
	}
	if r.waitIDR {
		if !idr {
			return
		}
		r.waitIDR = false
	}
	if !idr && !r.seg.refs.follows(it.au) {
		r.warn("refs", "reference picture missing: skipping to the next IDR", "segment", r.seg.key)
		r.waitIDR = true
		return
	}
	if idr {
		r.seg.refs.follows(it.au)
	}
	if !r.dtsOK {
		r.dtsx = vc.newDTS()
		r.dtsOK = true
	}
	dts, err := r.dtsx.Extract(it.au, pts)
	if err != nil {
		r.warn("dts", "cannot compute DTS: segment ends here", "segment", r.seg.key, "err", err)
		r.finalize("bad timestamps", false)
		return
	}
	first := r.seg.samples == 0
	if err := r.seg.add(it.au, pts, dts, idr); err != nil {
		if isWriteErr(err) {
			r.warn("write", "segment write failed: discarded", "segment", r.seg.key, "err", err)
			_ = r.seg.w.Abort()
			r.seg = nil
			return
		}
		r.warn("au", "bad access unit: segment ends here", "err", err)
		r.finalize("bad access unit", false)
		return
	}
	if first { // the audio that came before its first picture
		wait := r.audioWait
		r.audioWait = nil
		for _, u := range wait {
			r.seg.addAudio(u)
		}
	}
}

// currentAudio is the audio track a new segment gets (nil: none).
func (r *Recorder) currentAudio() *audioSpec {
	if r.audioSrc == nil {
		return nil
	}
	a, ok := r.audioSrc.Audio()
	if !ok {
		return nil
	}
	spec := audioSpecOf(a)
	if spec == nil {
		r.warn("audio", "audio codec not recordable: video only", "codec", a.Codec)
	}
	return spec
}

// handleAudio places an audio frame in the open segment, or keeps it for
// the next one.
func (r *Recorder) handleAudio(f relay.AudioFrame) {
	if r.audioSpec == nil || r.audioSpec.codec != f.Codec {
		r.audioSpec = nil
		if spec := r.currentAudio(); spec != nil && spec.codec == f.Codec {
			r.audioSpec = spec
		}
		if r.audioSpec == nil {
			return
		}
	}
	for _, u := range r.audioSpec.units(f) {
		if r.seg != nil && r.seg.samples > 0 {
			r.seg.addAudio(u) // dropped if the segment has no such track
			continue
		}
		if len(r.audioWait) >= maxAudioWait { // keep the newer half
			r.audioWait = append(r.audioWait[:0], r.audioWait[maxAudioWait/2:]...)
		}
		r.audioWait = append(r.audioWait, u)
	}
}

// stepWindow is the largest increase of the highest PTS over the last
// 50..100 access units: the frame interval, times the B-frame run length.
type stepWindow struct {
	cur, prev int64
	n         int
}

func (w *stepWindow) add(step int64) {
	w.cur = max(w.cur, step)
	if w.n++; w.n >= 50 {
		w.prev, w.cur, w.n = w.cur, 0, 0
	}
}

func (w *stepWindow) max() int64 { return max(w.cur, w.prev) }

type writeErr struct{ error }

func (e writeErr) Unwrap() error { return e.error }

func isWriteErr(err error) bool {
	var we writeErr
	return errors.As(err, &we)
}

// finalize writes out the current segment and hands it to the closer.
// Unless the next segment continues this one (continuous), the DTS
// extractor starts over at the next segment.
func (r *Recorder) finalize(reason string, continuous bool) {
	if !continuous {
		r.dtsOK = false
	}
	seg := r.seg
	if seg == nil {
		return
	}
	r.seg = nil
	dur, err := seg.finish()
	if seg.audio != nil {
		r.audioWait = seg.audio.rest() // past the segment's end: the next one's
	}
	if err != nil {
		r.warn("write", "segment write failed: discarded", "segment", seg.key, "err", err)
		_ = seg.w.Abort()
		return
	}
	r.log.Debug("segment finished", "segment", seg.key, "reason", reason,
		"duration", ticksToDuration(dur), "bytes", seg.bytes)
	seg.duration = dur
	r.closeQ <- seg
}

// closer publishes finished segments in order (uploads may be slow: the
// writer goes on meanwhile) and reports them.
func (r *Recorder) closer() {
	defer close(r.closed)
	_, republish := r.cfg.Storage.(storage.PartialPublisher)
	for seg := range r.closeQ {
		unpublished := false
		if err := seg.w.Close(); err != nil {
			if !republish {
				r.log.Error("segment not published (a partial may remain for recovery)", "segment", seg.key, "err", err)
				continue
			}
			// The partial stays: reported as unpublished, its owner retries.
			r.log.Warn("segment upload failed; retried in the background", "segment", seg.key, "err", err)
			unpublished = true
		}
		d := ticksToDuration(seg.duration)
		s := Segment{
			Key:         seg.key,
			Start:       seg.start,
			End:         seg.start.Add(d),
			DurationMS:  d.Milliseconds(),
			Bytes:       seg.bytes,
			Unpublished: unpublished,
		}
		r.stats.segments.Add(1)
		r.stats.bytes.Add(seg.bytes)
		if !unpublished {
			r.log.Info("segment closed", "segment", s.Key, "duration_ms", s.DurationMS, "bytes", s.Bytes)
		}
		if r.cfg.OnSegment != nil {
			r.cfg.OnSegment(s)
		}
	}
}

// warn logs at most once per 10 s per kind.
func (r *Recorder) warn(kind, msg string, args ...any) {
	if r.every(kind, 10*time.Second) {
		r.log.Warn(msg, args...)
	}
}

func (r *Recorder) every(kind string, period time.Duration) bool {
	now := time.Now()
	if now.Sub(r.logged[kind]) < period {
		return false
	}
	r.logged[kind] = now
	return true
}

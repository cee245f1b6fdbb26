package relay

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// Errors of the relay.
var (
	// ErrClosed: the Stream was closed.
	ErrClosed = errors.New("relay: stream closed")
	// ErrNotFound may be wrapped by Config.Open to answer RTSP 404 (other
	// Open errors answer 503).
	ErrNotFound = errors.New("relay: no such stream")
	// ErrNoVideo: the stream has no H264 video (HLS and SubscribeAU need it).
	ErrNoVideo = errors.New("relay: stream has no H264 video")
)

// Limits of the keyframe cache (the packets and access units since the
// last IDR). A GOP larger than this is not cached: new readers then start
// at the next IDR.
const (
	maxGOPPackets     = 1024
	maxGOPAUs         = 600
	maxPendingPackets = 1024
)

// gopPkt is a packet kept for readers that join mid-GOP.
type gopPkt struct {
	out *outMedia
	pkt *rtp.Packet
}

// outFormat rewrites sequence numbers and timestamps so that what readers
// see stays continuous when the camera pull reconnects (a new RTP session
// starts from random values).
type outFormat struct {
	format  format.Format
	clock   int
	started bool
	rebase  bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

func (f *outFormat) rewrite(pkt *rtp.Packet, now time.Time) {
	if f.rebase {
		f.rebase = false
		if f.started {
			f.seqOff = f.lastSeq + 1 - pkt.SequenceNumber
			elapsed := uint32(0)
			if f.clock > 0 {
				elapsed = uint32(now.Sub(f.lastAt).Seconds() * float64(f.clock))
			}
			f.tsOff = f.lastTS + max(elapsed, 1) - pkt.Timestamp
		}
	}
	pkt.SequenceNumber += f.seqOff
	pkt.Timestamp += f.tsOff
	f.started = true
	f.lastSeq = pkt.SequenceNumber
	f.lastTS = pkt.Timestamp
	f.lastAt = now
}

// ntpOf estimates the wall-clock time of an earlier packet of this format.
func (f *outFormat) ntpOf(ts uint32) time.Time {
	if f.clock <= 0 {
		return f.lastAt
	}
	back := int64(int32(f.lastTS - ts))
	return f.lastAt.Add(-ticksToDuration(back, f.clock))
}

// outMedia is one media of the outward description.
type outMedia struct {
	index   int
	medi    *description.Media // in Stream.desc, the ServerStream's description
	formats map[uint8]*outFormat
	h264    *format.H264 // set on the video media (the first H264 one)
}

type auEntry struct {
	au  [][]byte
	pts int64 // 90 kHz
	ntp time.Time
}

type auSub struct {
	fn     func(au [][]byte, pts time.Duration, ntp time.Time)
	closed atomic.Bool
}

// Stream is one source (a camera pull) fanned out to any number of readers:
// RTSP sessions of a Server, HLS, and access-unit subscribers (recorders).
//
// The source calls SetSource on each (re)connection and WritePacket for each
// RTP packet. Sequence numbers and timestamps are rewritten so readers see
// one continuous RTP stream across reconnections with the same description.
type Stream struct {
	key Key
	log atomic.Pointer[slog.Logger]

	// mu serializes the write path (source state, fan-out, keyframe cache,
	// decoding, HLS writes, subscribers). A reader joining over RTSP holds it
	// from its PLAY to the PLAY response so that no live packet slips
	// between the cached GOP and the live stream.
	mu      sync.Mutex
	closed  bool
	srv     *Server
	ss      *gortsplib.ServerStream
	desc    *description.Session // outward description (a copy of the source's)
	outs    []*outMedia
	src     map[*description.Media]*outMedia // current source medias; nil while no source
	video   *outMedia
	ready   bool
	readyCh chan struct{} // closed when ready (or closed)

	// H264 state of the video media
	dec        *rtph264.Decoder
	decPending bool
	decTS      uint32
	sps, pps   []byte
	pend       []gopPkt // packets of the access unit in progress
	pendTS     uint32
	pendIDR    bool
	pendVCL    bool
	gop        []gopPkt // packets since the last IDR access unit
	gopOK      bool
	gopAUs     []auEntry // access units since the last IDR
	gopAUsOK   bool
	idrAU      [][]byte  // the latest IDR access unit, kept past GOP limits (Keyframe)
	idrAt      time.Time // when it arrived
	ptsOK      bool
	lastAUTS   uint32
	lastPTS    int64
	ntpBase    time.Time
	subs       []*auSub
	hls        *hlsMuxer
	errLogged  time.Time
	gopWarned  bool

	rate rateMeter

	// readers
	notifyMu    sync.Mutex // orders readers-changed callbacks
	rmu         sync.Mutex
	rtspReaders int
	hlsReader   bool   // HLS requested in the last hlsIdleTimeout
	hlsGen      uint64 // incremented each time hlsReader turns true
	onReaders   func(n int)
	hlsLast     atomic.Int64 // unix nanos of the last HLS request start or end
	hlsInflight atomic.Int32
}

// NewStream returns an empty stream (no source yet) for k.
func NewStream(k Key) *Stream {
	st := &Stream{key: k, readyCh: make(chan struct{})}
	st.log.Store(slog.New(slog.DiscardHandler))
	return st
}

// Key is the stream's key.
func (st *Stream) Key() Key { return st.key }

// SetLogger sets the logger of the stream's events (default: discard).
func (st *Stream) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	st.log.Store(l.With("stream", st.key.String()))
}

func (st *Stream) logger() *slog.Logger { return st.log.Load() }

// SetSource announces a (re)connection of the source with its description;
// nil announces that the source is gone (the stream is not ready until the
// next SetSource and IDR). If the description has the same medias and
// formats as before, readers stay attached and see a continuous stream
// (codec parameters are refreshed); otherwise the RTSP stream is recreated,
// attached RTSP readers are closed (they reconnect) and HLS restarts.
// Either way the stream is ready again at the first IDR.
func (st *Stream) SetSource(desc *description.Session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	if st.ready {
		st.ready = false
		st.readyCh = make(chan struct{})
	}
	st.resetVideoLocked()
	if desc == nil {
		st.src = nil
		for _, om := range st.outs {
			for _, f := range om.formats {
				f.rebase = true
			}
		}
		st.logger().Info("source gone")
		return
	}
	if st.desc != nil && sameStructure(st.desc, desc) {
		st.src = make(map[*description.Media]*outMedia, len(desc.Medias))
		for i, m := range desc.Medias {
			om := st.outs[i]
			st.src[m] = om
			for _, f := range om.formats {
				f.rebase = true
			}
		}
		st.refreshParamsLocked(desc)
		st.initDecoderLocked()
		st.logger().Info("source reconnected, same description")
		return
	}

	// a new description: new outward stream
	if st.ss != nil {
		st.ss.Close()
		st.ss = nil
	}
	st.closeHLSLocked()
	st.desc, st.outs = cloneDescription(desc)
	st.src = make(map[*description.Media]*outMedia, len(desc.Medias))
	st.video = nil
	for i, m := range desc.Medias {
		st.src[m] = st.outs[i]
		if st.video == nil && st.outs[i].h264 != nil {
			st.video = st.outs[i]
		}
	}
	st.ptsOK = false
	st.sps, st.pps = nil, nil
	if st.video != nil {
		st.sps, st.pps = st.video.h264.SPS, st.video.h264.PPS
	}
	if st.srv != nil {
		st.createServerStreamLocked()
	}
	st.initDecoderLocked()
	st.logger().Info("source connected", "medias", len(desc.Medias), "h264", st.video != nil)
}

// WritePacket fans pkt out to the RTSP readers and feeds the keyframe
// cache, the H264 decoder (HLS, SubscribeAU) and the bitrate meter. medi is
// a media of the description last passed to SetSource. The stream takes
// ownership of pkt (its header is rewritten).
func (st *Stream) WritePacket(medi *description.Media, pkt *rtp.Packet) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || st.src == nil {
		return
	}
	om := st.src[medi]
	if om == nil {
		return
	}
	f := om.formats[pkt.PayloadType]
	if f == nil {
		return
	}
	f.rewrite(pkt, now)
	st.rate.add(now, len(pkt.Payload)+12)

	switch {
	case om == st.video && f.format == format.Format(om.h264):
		st.videoPacketLocked(om, pkt, now)
	case st.video == nil:
		// no H264: any packet is a fine place to start
		if !st.ready {
			st.setReadyLocked()
		}
	case st.gopOK:
		st.appendGOPLocked(gopPkt{out: om, pkt: pkt})
	}

	if st.ss != nil {
		if err := st.ss.WritePacketRTPWithNTP(om.medi, pkt, now); err != nil {
			st.logErrLocked("write to RTSP readers", err)
		}
	}
}

// logErrLocked logs write-path errors at most once a second.
func (st *Stream) logErrLocked(what string, err error) {
	if now := time.Now(); now.Sub(st.errLogged) >= time.Second {
		st.errLogged = now
		st.logger().Warn(what, "err", err)
	}
}

func (st *Stream) setReadyLocked() {
	st.ready = true
	close(st.readyCh)
}

func (st *Stream) videoPacketLocked(om *outMedia, pkt *rtp.Packet, now time.Time) {
	idr, vcl := rtpNALInfo(pkt.Payload)
	if len(st.pend) > 0 && pkt.Timestamp != st.pendTS && st.pendVCL {
		st.finishAULocked()
	}
	st.pend = append(st.pend, gopPkt{out: om, pkt: pkt})
	st.pendTS = pkt.Timestamp
	st.pendIDR = st.pendIDR || idr
	st.pendVCL = st.pendVCL || vcl
	if len(st.pend) > maxPendingPackets {
		// no access unit boundary in sight: stop caching until the next IDR
		st.pend = st.pend[:0]
		st.pendIDR, st.pendVCL = false, false
		st.gop, st.gopOK = nil, false
	}

	st.decodeLocked(pkt, now)

	if pkt.Marker && st.pendVCL {
		st.finishAULocked()
	}
}

// finishAULocked closes the access unit in st.pend: an IDR one starts a new
// cached GOP, any other one extends it.
func (st *Stream) finishAULocked() {
	if st.pendIDR {
		st.gop = st.pend
		st.gopOK = true
		st.pend = make([]gopPkt, 0, 32)
		if !st.ready {
			st.setReadyLocked()
		}
	} else {
		if st.gopOK {
			st.gop = append(st.gop, st.pend...)
			if len(st.gop) > maxGOPPackets {
				st.gop, st.gopOK = nil, false
				if !st.gopWarned {
					st.gopWarned = true
					st.logger().Warn("GOP too large to cache: new readers start at the next IDR", "max_packets", maxGOPPackets)
				}
			}
		}
		st.pend = st.pend[:0]
	}
	st.pendIDR, st.pendVCL = false, false
}

func (st *Stream) appendGOPLocked(p gopPkt) {
	st.gop = append(st.gop, p)
	if len(st.gop) > maxGOPPackets {
		st.gop, st.gopOK = nil, false
	}
}

func (st *Stream) resetVideoLocked() {
	st.pend = nil
	st.pendIDR, st.pendVCL = false, false
	st.gop, st.gopOK = nil, false
	st.gopAUs, st.gopAUsOK = nil, false
	st.dec = nil
	st.decPending = false
}

func (st *Stream) initDecoderLocked() {
	if st.video == nil {
		return
	}
	dec, err := st.video.h264.CreateDecoder()
	if err != nil {
		st.logger().Warn("H264 decoder", "err", err)
		return
	}
	st.dec = dec
}

func (st *Stream) decodeLocked(pkt *rtp.Packet, now time.Time) {
	if st.dec == nil {
		return
	}
	au, err := st.dec.Decode(pkt)
	var ts uint32
	switch {
	case err == nil:
		// The decoder also ends an access unit when the timestamp changes
		// (cameras without marker bits): then the returned one is the
		// previous, and this packet starts the next.
		if st.decPending && pkt.Timestamp != st.decTS {
			ts = st.decTS
			st.decTS = pkt.Timestamp
		} else {
			ts = pkt.Timestamp
			st.decPending = false
		}
	case errors.Is(err, rtph264.ErrMorePacketsNeeded):
		st.decPending = true
		st.decTS = pkt.Timestamp
		return
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		return
	default:
		st.logger().Debug("H264 depacketize", "err", err)
		return
	}
	if len(au) == 0 {
		return
	}
	st.onAULocked(au, ts, now)
}

func (st *Stream) onAULocked(au [][]byte, ts uint32, now time.Time) {
	if !st.ptsOK {
		st.ptsOK = true
		st.lastPTS = 0
		st.lastAUTS = ts
		st.ntpBase = now
	} else {
		st.lastPTS += int64(int32(ts - st.lastAUTS))
		st.lastAUTS = ts
	}
	pts := st.lastPTS

	if sps, pps := auParams(au); sps != nil || pps != nil {
		changed := false
		if sps != nil && !bytes.Equal(sps, st.sps) {
			st.sps = append([]byte(nil), sps...)
			changed = true
		}
		if pps != nil && !bytes.Equal(pps, st.pps) {
			st.pps = append([]byte(nil), pps...)
			changed = true
		}
		if changed && st.sps != nil && st.pps != nil {
			st.video.h264.SafeSetParams(st.sps, st.pps)
			if st.ss != nil {
				st.ss.ReloadDesc()
			}
		}
	}
	if !hasVCL(au) {
		// parameter sets or SEI alone: kept above, put in front of the next IDR
		return
	}
	au = withParams(au, st.sps, st.pps)
	ntp := st.ntpBase.Add(ticksToDuration(pts, 90000))

	if h264.IsRandomAccess(au) {
		st.gopAUs = append(make([]auEntry, 0, 64), auEntry{au: au, pts: pts, ntp: ntp})
		st.gopAUsOK = true
		st.idrAU, st.idrAt = au, now
	} else if st.gopAUsOK {
		st.gopAUs = append(st.gopAUs, auEntry{au: au, pts: pts, ntp: ntp})
		if len(st.gopAUs) > maxGOPAUs {
			st.gopAUs, st.gopAUsOK = nil, false
		}
	}

	if st.hls != nil {
		st.hls.write(au, pts, ntp)
	}
	if len(st.subs) > 0 {
		d := ticksToDuration(pts, 90000)
		live := st.subs[:0]
		for _, s := range st.subs {
			if s.closed.Load() {
				continue
			}
			live = append(live, s)
			s.fn(au, d, ntp)
		}
		clear(st.subs[len(live):])
		st.subs = live
	}
}

// WaitReady blocks until the stream has a source and has seen an IDR since
// the last SetSource (streams without H264: a first packet), or ctx ends,
// or the stream is closed.
func (st *Stream) WaitReady(ctx context.Context) error {
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return ErrClosed
		}
		if st.ready {
			st.mu.Unlock()
			return nil
		}
		ch := st.readyCh
		st.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Ready reports whether WaitReady would return at once.
func (st *Stream) Ready() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ready && !st.closed
}

// SubscribeAU delivers the decoded H264 access units of the stream (NALUs
// without start codes; IDR ones with SPS and PPS in front) with their
// presentation time (one continuous clock per stream, across source
// reconnections with the same description) and the matching wall-clock
// time. When a GOP is cached, delivery starts with it, from its IDR, so a
// recorder can start a segment at once; otherwise it starts with the next
// access unit (wait for h264.IsRandomAccess). fn runs on the source's
// goroutine with the stream locked: it must not block and must not call
// Stream methods (the returned unsubscribe excepted). Once unsubscribe
// returns, at most a call already under way completes.
func (st *Stream) SubscribeAU(fn func(au [][]byte, pts time.Duration, ntp time.Time)) (unsubscribe func()) {
	s := &auSub{fn: fn}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return func() {}
	}
	if st.gopAUsOK {
		for _, e := range st.gopAUs {
			if s.closed.Load() {
				break
			}
			fn(e.au, ticksToDuration(e.pts, 90000), e.ntp)
		}
	}
	st.subs = append(st.subs, s)
	return func() { s.closed.Store(true) }
}

// Readers is the number of readers attached: RTSP sessions playing, plus
// one while HLS is being requested.
func (st *Stream) Readers() int {
	st.rmu.Lock()
	defer st.rmu.Unlock()
	return st.readersLocked()
}

func (st *Stream) readersLocked() int {
	n := st.rtspReaders
	if st.hlsReader {
		n++
	}
	return n
}

// OnReadersChanged sets the callback called with the new count each time
// Readers changes (calls are ordered; it runs on gortsplib or HLS
// goroutines and must not block for long).
func (st *Stream) OnReadersChanged(fn func(n int)) {
	st.rmu.Lock()
	st.onReaders = fn
	st.rmu.Unlock()
}

// changeReaders applies a change and calls the callback, in order.
func (st *Stream) changeReaders(change func()) {
	st.notifyMu.Lock()
	defer st.notifyMu.Unlock()
	st.rmu.Lock()
	before := st.readersLocked()
	change()
	n := st.readersLocked()
	fn := st.onReaders
	st.rmu.Unlock()
	if fn != nil && n != before {
		fn(n)
	}
}

// BitrateKbps is the source bitrate (RTP payload + header) over the last
// few seconds.
func (st *Stream) BitrateKbps() float64 {
	return st.rate.kbps(time.Now())
}

// Closed reports whether Close was called: a holder that keeps using the
// stream (motion detection) asks its stream actor for the next one.
func (st *Stream) Closed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closed
}

// Close closes the stream: RTSP readers are disconnected, HLS stops, nothing
// more is delivered; WaitReady returns ErrClosed.
func (st *Stream) Close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	if st.ss != nil {
		st.ss.Close()
		st.ss = nil
	}
	st.closeHLSLocked()
	if !st.ready {
		close(st.readyCh)
	}
	st.subs = nil
	srv := st.srv
	st.srv = nil
	st.resetVideoLocked()
	st.idrAU = nil
	st.mu.Unlock()
	if srv != nil {
		srv.forget(st)
	}
	st.changeReaders(func() { st.hlsReader = false })
}

// bind attaches the stream to an RTSP server and returns its current
// ServerStream (nil while there is no source).
func (st *Stream) bind(s *Server) (*gortsplib.ServerStream, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, ErrClosed
	}
	if st.srv != s {
		if st.ss != nil {
			st.ss.Close()
			st.ss = nil
		}
		st.srv = s
		s.remember(st)
	}
	if st.ss == nil && st.desc != nil {
		st.createServerStreamLocked()
	}
	return st.ss, nil
}

// unbind detaches the stream from a closing server.
func (st *Stream) unbind(s *Server) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.srv != s {
		return
	}
	if st.ss != nil {
		st.ss.Close()
		st.ss = nil
	}
	st.srv = nil
}

func (st *Stream) serverStream() *gortsplib.ServerStream {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ss
}

func (st *Stream) createServerStreamLocked() {
	ss := &gortsplib.ServerStream{Server: st.srv.rtsp, Desc: st.desc}
	if err := ss.Initialize(); err != nil {
		st.logger().Error("cannot serve the stream over RTSP", "err", err)
		return
	}
	st.ss = ss
}

// join is a reader joining mid-GOP: the cached packets it was sent, per
// track, so that its PLAY response can point at them (RTP-Info).
type join struct {
	st      *Stream
	once    sync.Once
	first   map[int]rtpStart // by track index
	release func()
}

type rtpStart struct {
	seq uint16
	ts  uint32
}

// beginJoin sends the cached GOP to a session about to play and keeps the
// write path locked until release is called (once the PLAY response is
// ready), so the session sees the cached packets then the live ones with
// no gap and no duplicate. It returns nil if sess is not a reader of this
// stream's current ServerStream.
func (st *Stream) beginJoin(sess *gortsplib.ServerSession, replay bool) *join {
	st.mu.Lock()
	if st.closed || st.ss == nil || sess.Stream() != st.ss {
		st.mu.Unlock()
		return nil
	}
	j := &join{st: st}
	j.release = func() { j.once.Do(st.mu.Unlock) }
	if !replay || !st.gopOK {
		return j
	}
	set := make(map[*description.Media]struct{})
	for _, m := range sess.Medias() {
		set[m] = struct{}{}
	}
	j.first = make(map[int]rtpStart)
	send := func(gp gopPkt) {
		if _, ok := set[gp.out.medi]; !ok {
			return
		}
		f := gp.out.formats[gp.pkt.PayloadType]
		if _, ok := j.first[gp.out.index]; !ok {
			j.first[gp.out.index] = rtpStart{seq: gp.pkt.SequenceNumber, ts: gp.pkt.Timestamp}
		}
		if err := sess.WritePacketRTPWithNTP(gp.out.medi, gp.pkt, f.ntpOf(gp.pkt.Timestamp)); err != nil {
			st.logErrLocked("send cached GOP", err)
		}
	}
	for _, gp := range st.gop {
		send(gp)
	}
	for _, gp := range st.pend {
		send(gp)
	}
	return j
}

// sameStructure reports whether b has the same medias and formats as a
// (types, payload types, codecs, clock rates, H264 packetization), so
// readers of a can keep reading b.
func sameStructure(a, b *description.Session) bool {
	if len(a.Medias) != len(b.Medias) {
		return false
	}
	for i := range a.Medias {
		ma, mb := a.Medias[i], b.Medias[i]
		if ma.Type != mb.Type || len(ma.Formats) != len(mb.Formats) || ma.IsBackChannel != mb.IsBackChannel {
			return false
		}
		for j := range ma.Formats {
			fa, fb := ma.Formats[j], mb.Formats[j]
			if fa.PayloadType() != fb.PayloadType() || fa.Codec() != fb.Codec() || fa.ClockRate() != fb.ClockRate() {
				return false
			}
			if ha, ok := fa.(*format.H264); ok {
				hb := fb.(*format.H264)
				if ha.PacketizationMode != hb.PacketizationMode {
					return false
				}
			}
		}
	}
	return true
}

// refreshParamsLocked takes new H264 parameters from a reconnected
// source's description.
func (st *Stream) refreshParamsLocked(desc *description.Session) {
	if st.video == nil {
		return
	}
	var nf *format.H264
	for _, f := range desc.Medias[st.video.index].Formats {
		if h, ok := f.(*format.H264); ok {
			nf = h
			break
		}
	}
	if nf == nil || nf.SPS == nil || nf.PPS == nil {
		return
	}
	if bytes.Equal(nf.SPS, st.sps) && bytes.Equal(nf.PPS, st.pps) {
		return
	}
	st.sps = append([]byte(nil), nf.SPS...)
	st.pps = append([]byte(nil), nf.PPS...)
	st.video.h264.SafeSetParams(st.sps, st.pps)
	if st.ss != nil {
		st.ss.ReloadDesc()
	}
}

// cloneDescription copies a source description (medias and formats), so
// the relay never shares mutable objects with the source.
func cloneDescription(desc *description.Session) (*description.Session, []*outMedia) {
	out := &description.Session{Title: desc.Title, FECGroups: desc.FECGroups}
	outs := make([]*outMedia, len(desc.Medias))
	for i, m := range desc.Medias {
		nm := &description.Media{
			Type:          m.Type,
			ID:            m.ID,
			IsBackChannel: m.IsBackChannel,
			Control:       m.Control,
		}
		om := &outMedia{index: i, medi: nm, formats: make(map[uint8]*outFormat, len(m.Formats))}
		for _, f := range m.Formats {
			nf := cloneFormat(f)
			nm.Formats = append(nm.Formats, nf)
			om.formats[nf.PayloadType()] = &outFormat{format: nf, clock: nf.ClockRate()}
			if h, ok := nf.(*format.H264); ok && om.h264 == nil {
				// copy the parameter sets: SafeSetParams replaces them later
				h.SPS = append([]byte(nil), h.SPS...)
				h.PPS = append([]byte(nil), h.PPS...)
				if len(h.SPS) == 0 {
					h.SPS = nil
				}
				if len(h.PPS) == 0 {
					h.PPS = nil
				}
				om.h264 = h
			}
		}
		out.Medias = append(out.Medias, nm)
		outs[i] = om
	}
	return out, outs
}

// cloneFormat returns a shallow copy of a format (formats are pointers to
// structs), as gortsplib itself does for its DESCRIBE answers.
func cloneFormat(f format.Format) format.Format {
	v := reflect.New(reflect.TypeOf(f).Elem())
	v.Elem().Set(reflect.ValueOf(f).Elem())
	return v.Interface().(format.Format)
}

// ticksToDuration converts clock ticks to a duration without overflowing.
func ticksToDuration(ticks int64, clock int) time.Duration {
	c := int64(clock)
	return time.Duration(ticks/c)*time.Second + time.Duration(ticks%c)*time.Second/time.Duration(c)
}

// rateMeter counts bytes per second over a short window.
type rateMeter struct {
	mu      sync.Mutex
	buckets [8]struct {
		sec   int64
		bytes int64
	}
}

const rateWindow = 4 // seconds, complete ones

func (r *rateMeter) add(now time.Time, n int) {
	sec := now.Unix()
	r.mu.Lock()
	b := &r.buckets[sec%int64(len(r.buckets))]
	if b.sec != sec {
		b.sec = sec
		b.bytes = 0
	}
	b.bytes += int64(n)
	r.mu.Unlock()
}

func (r *rateMeter) kbps(now time.Time) float64 {
	sec := now.Unix()
	var total int64
	r.mu.Lock()
	for _, b := range r.buckets {
		if b.sec >= sec-rateWindow && b.sec < sec {
			total += b.bytes
		}
	}
	r.mu.Unlock()
	return float64(total) * 8 / rateWindow / 1000
}

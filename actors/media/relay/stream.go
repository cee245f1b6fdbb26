package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/actors/media/subs"
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"
)

// Errors of the relay.
var (
	// ErrClosed: the Stream was closed.
	ErrClosed = errors.New("relay: stream closed")
	// ErrNotFound may be wrapped by Config.Open to answer RTSP 404 (other
	// Open errors answer 503).
	ErrNotFound = errors.New("relay: no such stream")
	// ErrNoVideo: the stream has no H.264 or H.265 video (HLS needs it).
	ErrNoVideo = errors.New("relay: stream has no H.264 or H.265 video")
)

// outMedia is one media of the outward description.
type outMedia struct {
	index   int
	medi    *description.Media // in Stream.desc, the ServerStream's description
	formats map[uint8]*outFormat
	video   videoCodec  // set on the video media (the first H.264/H.265 one)
	audio   *audioTrack // set on the audio media (the first AAC/G.711/Opus one)
}

// Stream is one source (a camera pull) fanned out to any number of readers:
// RTSP sessions of a Server, HLS, and video and audio subscribers
// (recorders, motion detection, WebRTC sessions).
//
// The source calls SetSource on each (re)connection and WritePacket for each
// RTP packet. Sequence numbers and timestamps are rewritten so readers see
// one continuous RTP stream across reconnections with the same description.
// Every codec is forwarded over RTSP; H.264 and H.265 video (codec.go) and
// AAC, G.711 and Opus audio (audio.go) are also decoded for the other readers.
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
	audio   *outMedia
	ready   bool
	readyCh chan struct{} // closed when ready (or closed)
	done    chan struct{} // closed by Close

	videoState // gop.go, video.go
	audioSubs  subs.List[AudioFrame]
	hls        [hlsKinds]*hlsMuxer // running muxers
	errLogged  time.Time

	rate rateMeter

	readerState // readers.go
}

// NewStream returns an empty stream (no source yet) for k.
func NewStream(k Key) *Stream {
	st := &Stream{key: k, readyCh: make(chan struct{}), done: make(chan struct{})}
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
// Either way the stream is ready again at the first random access point.
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
		st.rebaseLocked()
		st.logger().Info("source gone")
		return
	}
	if st.desc != nil && sameStructure(st.desc, desc) {
		st.src = make(map[*description.Media]*outMedia, len(desc.Medias))
		for i, m := range desc.Medias {
			st.src[m] = st.outs[i]
		}
		st.rebaseLocked()
		st.refreshParamsLocked(desc)
		st.initDecodersLocked()
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
	st.video, st.audio = nil, nil
	for i, m := range desc.Medias {
		om := st.outs[i]
		st.src[m] = om
		if st.video == nil && om.video != nil {
			st.video = om
		} else {
			om.video = nil
		}
		if st.audio == nil && om.audio != nil {
			st.audio = om
		} else {
			om.audio = nil
		}
	}
	st.ptsOK = false
	if st.srv != nil {
		st.createServerStreamLocked()
	}
	st.initDecodersLocked()
	codec := Codec("")
	if st.video != nil {
		codec = st.video.video.codec()
	}
	st.logger().Info("source connected", "medias", len(desc.Medias), "video", codec, "audio", st.audioInfoLocked().Codec)
}

// rebaseLocked makes every format continue its RTP numbering from where
// readers left it when the next source's packets arrive.
func (st *Stream) rebaseLocked() {
	for _, om := range st.outs {
		for _, f := range om.formats {
			f.rebase = true
		}
	}
}

func (st *Stream) initDecodersLocked() {
	if st.video != nil {
		if err := st.video.video.resetDecoder(); err != nil {
			st.logger().Warn("video decoder", "err", err)
		}
	}
	if st.audio != nil {
		if err := st.audio.audio.resetDecoder(); err != nil {
			st.logger().Warn("audio decoder", "err", err)
		}
	}
}

// WritePacket fans pkt out to the RTSP readers and feeds the keyframe
// cache, the decoders (HLS, subscribers) and the bitrate meter. medi is a
// media of the description last passed to SetSource. The stream takes
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
	case om == st.video && f.video:
		st.videoPacketLocked(om, pkt, now)
	case st.video == nil:
		// no video to wait for: any packet is a fine place to start
		if !st.ready {
			st.setReadyLocked()
		}
		st.audioPacketLocked(om, f, pkt, now)
	default:
		if st.gopOK {
			st.appendGOPLocked(gopPkt{out: om, pkt: pkt})
		}
		st.audioPacketLocked(om, f, pkt, now)
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

// WaitReady blocks until the stream has a source and has seen a random
// access point since the last SetSource (streams without video: a first
// packet), or ctx ends, or the stream is closed.
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

// Done is closed when the stream is: readers served outside the relay
// (WebRTC sessions) end with it.
func (st *Stream) Done() <-chan struct{} { return st.done }

// Close closes the stream: RTSP readers are disconnected, HLS stops, nothing
// more is delivered; WaitReady returns ErrClosed.
func (st *Stream) Close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	close(st.done)
	if st.ss != nil {
		st.ss.Close()
		st.ss = nil
	}
	st.closeHLSLocked()
	if !st.ready {
		close(st.readyCh)
	}
	st.subs = nil
	st.audioSubs = nil
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

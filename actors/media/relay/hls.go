package relay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
)

// HLS tuning (variables so tests can shorten them).
var (
	// hlsIdleTimeout: HLS counts as a reader, and its muxer runs, while it
	// has been requested within this period.
	hlsIdleTimeout = 10 * time.Second
	// hlsReadyTimeout bounds the wait for a keyframe on the first request.
	hlsReadyTimeout = 10 * time.Second
)

// hlsKind is one of the stream's two HLS forms, each with its muxer.
type hlsKind int

const (
	// hlsStandard: segments of a second or more, in the variant the
	// codecs allow (H.264 with AAC or none: MPEG-TS, playable by hls.js,
	// Safari, ffmpeg and VLC; H.265 or Opus: fMP4).
	hlsStandard hlsKind = iota
	// hlsLowLatency: LL-HLS (fMP4 parts of 200 ms, blocking playlist
	// reload), under ll/.
	hlsLowLatency
	hlsKinds
)

// hlsMuxer is one of the stream's gohlslib muxers: the video track and
// the audio track when HLS carries its codec (AAC; Opus in fMP4; G.711
// not at all).
type hlsMuxer struct {
	mux        *gohlslib.Muxer
	track      *gohlslib.Track
	codec      videoCodec
	audio      *gohlslib.Track // nil: video only
	audioCodec AudioCodec
	log        *slog.Logger
	errLogged  time.Time
}

// hlsAudioTrack is the gohlslib track of an audio track, nil when HLS
// does not carry its codec.
func hlsAudioTrack(a AudioTrack) *gohlslib.Track {
	switch {
	case a.Codec == AudioAAC && a.AAC != nil:
		return &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: *a.AAC}, ClockRate: a.AAC.SampleRate}
	case a.Codec == AudioOpus:
		return &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: a.Channels}, ClockRate: 48000}
	}
	return nil
}

func newHLSMuxer(kind hlsKind, vc videoCodec, audio AudioTrack, log *slog.Logger) (*hlsMuxer, error) {
	h := &hlsMuxer{track: vc.hlsTrack(), codec: vc, log: log}
	variant := vc.hlsVariant()
	if kind == hlsLowLatency {
		variant = gohlslib.MuxerVariantLowLatency
	}
	tracks := []*gohlslib.Track{h.track}
	if at := hlsAudioTrack(audio); at != nil && at.ClockRate == audio.ClockRate {
		h.audio, h.audioCodec = at, audio.Codec
		tracks = append(tracks, at)
		if audio.Codec == AudioOpus && variant == gohlslib.MuxerVariantMPEGTS {
			variant = gohlslib.MuxerVariantFMP4 // MPEG-TS HLS carries AAC only
		}
	}
	h.mux = &gohlslib.Muxer{
		Variant:            variant,
		Tracks:             tracks,
		SegmentCount:       7,
		SegmentMinDuration: time.Second,
		OnEncodeError: func(err error) {
			log.Debug("HLS encode", "err", err)
		},
	}
	if err := h.mux.Start(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *hlsMuxer) write(au [][]byte, pts int64, ntp time.Time) {
	if err := h.codec.hlsWrite(h.mux, h.track, ntp, pts, au); err != nil {
		if now := time.Now(); now.Sub(h.errLogged) >= time.Second {
			h.errLogged = now
			h.log.Warn("HLS write", "err", err)
		}
	}
}

// writeAudio writes audio frames whose first starts at pts (ticks of the
// audio clock, on the video's timeline).
func (h *hlsMuxer) writeAudio(frames [][]byte, pts int64, ntp time.Time) {
	var err error
	switch h.audioCodec {
	case AudioAAC:
		err = h.mux.WriteMPEG4Audio(h.audio, ntp, pts, frames)
	case AudioOpus:
		err = h.mux.WriteOpus(h.audio, ntp, pts, frames)
	}
	if err != nil {
		if now := time.Now(); now.Sub(h.errLogged) >= time.Second {
			h.errLogged = now
			h.log.Warn("HLS write", "err", err)
		}
	}
}

func (h *hlsMuxer) close() { h.mux.Close() }

func (st *Stream) closeHLSLocked() {
	for i, m := range st.hls {
		if m != nil {
			m.close()
			st.hls[i] = nil
		}
	}
}

// writeHLSLocked writes an access unit to the running muxers.
func (st *Stream) writeHLSLocked(au [][]byte, pts int64, ntp time.Time) {
	for _, m := range st.hls {
		if m != nil {
			m.write(au, pts, ntp)
		}
	}
}

// hlsAudioLocked reports whether a running muxer takes audio of codec c.
func (st *Stream) hlsAudioLocked(c AudioCodec) bool {
	for _, m := range st.hls {
		if m != nil && m.audio != nil && m.audioCodec == c {
			return true
		}
	}
	return false
}

// writeHLSAudioLocked writes audio frames to the running muxers that take
// them.
func (st *Stream) writeHLSAudioLocked(c AudioCodec, frames [][]byte, pts int64, ntp time.Time) {
	for _, m := range st.hls {
		if m != nil && m.audio != nil && m.audioCodec == c {
			m.writeAudio(frames, pts, ntp)
		}
	}
}

// HLSHandler serves the stream as HLS: index.m3u8, the media playlist and
// the segments, and LL-HLS under ll/ (ll/index.m3u8, parts, blocking
// reloads). Mount it under /hls/<device>/<channel>/ with that prefix
// stripped (only the last path element matters, and an ll/ in front).
// Playlists repeat the request's query string in every URI they list, so
// a ?token=… on index.m3u8 reaches the segments too. Each muxer starts on
// its first request (from the cached GOP when there is one); both stop
// after hlsIdleTimeout without requests; meanwhile HLS counts as one
// reader. Authorization is the caller's job.
func (st *Stream) HLSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		st.touchHLS()
		st.hlsInflight.Add(1)
		defer func() {
			st.hlsLast.Store(time.Now().UnixNano())
			st.hlsInflight.Add(-1)
		}()
		kind := hlsStandard
		if rest, ok := strings.CutPrefix(strings.TrimPrefix(r.URL.Path, "/"), "ll/"); ok {
			kind = hlsLowLatency
			r = r.Clone(r.Context())
			r.URL.Path = "/" + rest
		}
		m, err := st.hlsGet(r.Context(), kind)
		switch {
		case err == nil:
		case errors.Is(err, ErrClosed), errors.Is(err, ErrNoVideo):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		default:
			http.Error(w, "stream not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		tw := &trackingWriter{ResponseWriter: w}
		m.mux.Handle(tw, r)
		if !tw.wrote {
			http.NotFound(w, r)
		}
	})
}

// trackingWriter records whether the muxer answered (it stays silent for
// names it does not know).
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		t.wrote = true
		f.Flush()
	}
}

// hlsGet returns the running muxer of kind, starting it when needed.
func (st *Stream) hlsGet(ctx context.Context, kind hlsKind) (*hlsMuxer, error) {
	ctx, cancel := context.WithTimeout(ctx, hlsReadyTimeout)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, ErrClosed
	}
	if m := st.hls[kind]; m != nil {
		return m, nil
	}
	if st.video == nil {
		return nil, ErrNoVideo
	}
	m, err := newHLSMuxer(kind, st.video.video, st.audioInfoLocked(), st.logger())
	if err != nil {
		return nil, err
	}
	if st.gopAUsOK {
		for _, e := range st.gopAUs {
			m.write(e.f.NALUs, e.pts, e.f.NTP)
		}
	}
	st.hls[kind] = m
	st.logger().Info("HLS muxer started", "low_latency", kind == hlsLowLatency)
	return m, nil
}

// touchHLS records an HLS request; the first after an idle period makes
// HLS a reader and starts the idle watch.
func (st *Stream) touchHLS() {
	st.hlsLast.Store(time.Now().UnixNano())
	var gen uint64
	st.changeReaders(func() {
		if !st.hlsReader {
			st.hlsReader = true
			st.hlsGen++
			gen = st.hlsGen
		}
	})
	if gen != 0 {
		go st.hlsWatch(gen)
	}
}

// hlsWatch ends the HLS reader (and its muxer) once no request was under
// way for hlsIdleTimeout (a playlist request may wait for the first
// segment), or when the stream is closed.
func (st *Stream) hlsWatch(gen uint64) {
	t := time.NewTicker(max(hlsIdleTimeout/8, 10*time.Millisecond))
	defer t.Stop()
	for range t.C {
		st.mu.Lock()
		closed := st.closed
		st.mu.Unlock()
		ended := false
		st.changeReaders(func() {
			if st.hlsGen != gen || !st.hlsReader {
				ended = true
				return
			}
			idle := st.hlsInflight.Load() == 0 && time.Since(time.Unix(0, st.hlsLast.Load())) >= hlsIdleTimeout
			if closed || idle {
				st.hlsReader = false
				ended = true
			}
		})
		if !ended {
			continue
		}
		st.mu.Lock()
		st.rmu.Lock()
		stop := st.hlsGen == gen && !st.hlsReader
		st.rmu.Unlock()
		if stop && st.hls != [hlsKinds]*hlsMuxer{} {
			st.closeHLSLocked()
			st.logger().Info("HLS muxer stopped (idle)")
		}
		st.mu.Unlock()
		return
	}
}

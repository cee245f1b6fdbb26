package relay

import (
	"errors"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
)

// AudioCodec names an audio codec the relay decodes for its subscribers
// (every codec is forwarded over RTSP).
type AudioCodec string

// The audio codecs of the relay.
const (
	AudioAAC  AudioCodec = "aac"  // MPEG-4 Audio (RFC 3640)
	AudioPCMA AudioCodec = "pcma" // G.711 A-law
	AudioPCMU AudioCodec = "pcmu" // G.711 µ-law
	AudioOpus AudioCodec = "opus"
)

// AudioTrack describes a stream's audio.
type AudioTrack struct {
	Codec     AudioCodec
	ClockRate int
	Channels  int
	// AAC is the decoder configuration of an AAC track (fMP4 and HLS need it).
	AAC *mpeg4audio.AudioSpecificConfig
}

// AudioFrame is what audio subscribers get for each RTP packet.
type AudioFrame struct {
	Codec AudioCodec
	// Frames: AAC access units (1024 samples each), one Opus packet, or one
	// block of G.711 samples. They point into the stream's packets, which
	// it owns and never reuses: subscribers may keep them (not modify).
	Frames [][]byte
	// PTS of the first frame on one continuous clock per stream (it starts
	// at 0 with the first audio packet; relate it to video through NTP).
	PTS time.Duration
	// NTP is the matching wall-clock time.
	NTP time.Time
}

// audioTrack is the decoding state of a stream's audio media (under
// Stream.mu).
type audioTrack struct {
	info   AudioTrack
	format format.Format
	decode func(*rtp.Packet) ([][]byte, error)

	ptsOK   bool
	lastTS  uint32
	pts     int64 // ticks of info.ClockRate
	ntpBase time.Time
}

// audioTrackOf describes an audio format the relay decodes, nil otherwise.
func audioTrackOf(f format.Format) *AudioTrack {
	switch f := f.(type) {
	case *format.MPEG4Audio:
		if f.Config == nil {
			return nil
		}
		cfg := *f.Config
		return &AudioTrack{Codec: AudioAAC, ClockRate: f.ClockRate(), Channels: cfg.ChannelCount, AAC: &cfg}
	case *format.G711:
		c := AudioPCMA
		if f.MULaw {
			c = AudioPCMU
		}
		return &AudioTrack{Codec: c, ClockRate: f.SampleRate, Channels: f.ChannelCount}
	case *format.Opus:
		return &AudioTrack{Codec: AudioOpus, ClockRate: 48000, Channels: f.ChannelCount}
	}
	return nil
}

func newAudioTrack(f format.Format) *audioTrack {
	info := audioTrackOf(f)
	if info == nil || info.ClockRate <= 0 {
		return nil
	}
	return &audioTrack{info: *info, format: f}
}

// resetDecoder starts depacketizing afresh (a new source session).
func (a *audioTrack) resetDecoder() error {
	a.decode = nil
	switch f := a.format.(type) {
	case *format.MPEG4Audio:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		a.decode = func(pkt *rtp.Packet) ([][]byte, error) {
			aus, err := d.Decode(pkt)
			if errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
				return nil, errMorePackets
			}
			return aus, err
		}
	case *format.G711:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		a.decode = oneFrame(d)
	case *format.Opus:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		a.decode = oneFrame(d)
	}
	return nil
}

// oneFrame adapts a depacketizer of one frame per packet (G.711, Opus).
func oneFrame(d interface {
	Decode(*rtp.Packet) ([]byte, error)
}) func(*rtp.Packet) ([][]byte, error) {
	return func(pkt *rtp.Packet) ([][]byte, error) {
		b, err := d.Decode(pkt)
		return [][]byte{b}, err
	}
}

// audioPacketLocked keeps the audio clock and, when someone listens,
// decodes the packet for the audio subscribers.
func (st *Stream) audioPacketLocked(om *outMedia, f *outFormat, pkt *rtp.Packet, now time.Time) {
	a := om.audio
	if om != st.audio || a == nil || f.format != a.format {
		return
	}
	// timestamps are continuous across reconnections (outFormat.rewrite)
	if !a.ptsOK {
		a.ptsOK, a.pts, a.ntpBase = true, 0, now
	} else {
		a.pts += int64(int32(pkt.Timestamp - a.lastTS))
	}
	a.lastTS = pkt.Timestamp
	toHLS := st.ptsOK && st.hlsAudioLocked(a.info.Codec)
	if (len(st.audioSubs) == 0 && !toHLS) || a.decode == nil {
		return
	}
	frames, err := a.decode(pkt)
	switch {
	case errors.Is(err, errMorePackets):
		return
	case err != nil:
		st.logger().Debug("audio depacketize", "codec", a.info.Codec, "err", err)
		return
	case len(frames) == 0:
		return
	}
	pts := ticksToDuration(a.pts, a.info.ClockRate)
	ntp := a.ntpBase.Add(pts)
	if toHLS {
		// HLS places both tracks on one clock: the video's, which
		// started at st.ntpBase
		if p := durationToTicks(a.ntpBase.Sub(st.ntpBase), a.info.ClockRate) + a.pts; p >= 0 {
			st.writeHLSAudioLocked(a.info.Codec, frames, p, ntp)
		}
	}
	if len(st.audioSubs) > 0 {
		st.audioSubs.Deliver(AudioFrame{Codec: a.info.Codec, Frames: frames, PTS: pts, NTP: ntp})
	}
}

// Audio describes the stream's audio; ok false while the source has none
// the relay decodes (or no source yet).
func (st *Stream) Audio() (AudioTrack, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	info := st.audioInfoLocked()
	return info, info.Codec != ""
}

func (st *Stream) audioInfoLocked() AudioTrack {
	if st.audio == nil {
		return AudioTrack{}
	}
	return st.audio.audio.info
}

// SubscribeAudio delivers the stream's decoded audio from the next packet
// on. fn runs on the source's goroutine with the stream locked: it must not
// block and must not call Stream methods (the returned unsubscribe
// excepted).
func (st *Stream) SubscribeAudio(fn func(AudioFrame)) (unsubscribe func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return func() {}
	}
	return st.audioSubs.Add(fn)
}

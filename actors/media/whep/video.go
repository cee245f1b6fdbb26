package whep

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/webrtc/v4"
)

// rtpPayloadMax keeps packets under the 1200-byte RTP size WebRTC stacks
// assume (pion's own packetizer uses 1200 with the 12-byte header), which
// leaves room for header extensions, SRTP and IPv6 under a 1280 MTU.
const rtpPayloadMax = 1200 - 12

// videoSender packetizes access units onto a TrackLocalStaticRTP.
//
// Why RTP and not TrackLocalStaticSample: the sample track derives each RTP
// timestamp from the sum of the previous samples' durations, so it needs a
// frame's duration before the next frame exists (a frame of delay, or
// timestamps one frame off on a variable frame rate), and a drop to the
// next IDR becomes a time skew. Here the RTP timestamp is the source's pts,
// exactly, through gaps and all; the packetizer (gortsplib's RFC 6184
// encoder: STAP-A for SPS+PPS, FU-A for large slices, marker on the last
// packet) takes the NALUs as the relay has them, with no Annex-B round
// trip.
type videoSender struct {
	track  *webrtc.TrackLocalStaticRTP
	enc    *rtph264.Encoder
	q      *frameQueue
	tsBase uint32
	log    *slog.Logger
}

func newVideoSender(codec webrtc.RTPCodecParameters, log *slog.Logger) (*videoSender, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, "video", streamID)
	if err != nil {
		return nil, fmt.Errorf("whep: video track: %w", err)
	}
	enc := &rtph264.Encoder{
		PayloadType:       uint8(codec.PayloadType),
		PayloadMaxSize:    rtpPayloadMax,
		PacketizationMode: 1,
	}
	if err := enc.Init(); err != nil {
		return nil, fmt.Errorf("whep: H264 packetizer: %w", err)
	}
	v := &videoSender{
		track:  track,
		enc:    enc,
		q:      newFrameQueue(true, videoMaxAge, videoMaxBytes),
		tsBase: rand.Uint32(), // RFC 3550: a random initial timestamp
		log:    log,
	}
	v.q.onDrop = func() { log.Debug("peer is behind: dropping video to the next IDR") }
	return v, nil
}

// onAU is the source callback: it only queues.
func (v *videoSender) onAU(au [][]byte, pts time.Duration, _ time.Time) {
	v.q.push(au, pts, h264.IsRandomAccess(au))
}

// run writes queued access units until the queue closes or the track is
// gone.
func (v *videoSender) run() {
	for {
		it, ok := v.q.pop()
		if !ok {
			return
		}
		au := nonEmpty(it.frames)
		if len(au) == 0 {
			continue
		}
		pkts, err := v.enc.Encode(au)
		if err != nil {
			v.log.Debug("H264 packetize", "err", err)
			continue
		}
		ts := v.tsBase + uint32(ticks(it.pts, 90000))
		for _, p := range pkts {
			p.Timestamp = ts
			if err := v.track.WriteRTP(p); err != nil {
				if errors.Is(err, io.ErrClosedPipe) {
					return
				}
				v.log.Debug("video write", "err", err)
			}
		}
	}
}

// nonEmpty drops empty NALUs, on which the packetizer would panic.
func nonEmpty(au [][]byte) [][]byte {
	for _, n := range au {
		if len(n) == 0 {
			out := make([][]byte, 0, len(au))
			for _, n := range au {
				if len(n) > 0 {
					out = append(out, n)
				}
			}
			return out
		}
	}
	return au
}

// ticks converts a pts to clock-rate ticks without overflowing int64 for
// long-running streams (pts × 90000 in nanoseconds would after ~28 h).
func ticks(pts time.Duration, clockRate int64) int64 {
	sec := int64(pts / time.Second)
	rem := int64(pts % time.Second)
	return sec*clockRate + rem*clockRate/int64(time.Second)
}

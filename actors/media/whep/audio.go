package whep

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// g711PacketSamples is 20 ms at 8 kHz: the ptime every WebRTC G.711
// implementation takes; a camera's sample blocks can be much larger.
const g711PacketSamples = 160

// audioSender forwards Opus packets or G.711 samples onto a
// TrackLocalStaticRTP, with RTP timestamps from the source's pts (the
// payloads need no packetizer: one Opus packet per RTP packet, RFC 7587;
// G.711 is cut into 20 ms packets).
type audioSender struct {
	track  *webrtc.TrackLocalStaticRTP
	opus   bool
	clock  int64
	pt     uint8
	q      *frameQueue
	seq    uint16
	ssrc   uint32
	tsBase uint32
	first  bool
	log    *slog.Logger
}

func newAudioSender(codec webrtc.RTPCodecParameters, log *slog.Logger) (*audioSender, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, "audio", streamID)
	if err != nil {
		return nil, fmt.Errorf("whep: audio track: %w", err)
	}
	isOpus := strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus)
	clock := int64(8000)
	if isOpus {
		clock = 48000 // RFC 7587: always 48 kHz
	}
	return &audioSender{
		track:  track,
		opus:   isOpus,
		clock:  clock,
		pt:     uint8(codec.PayloadType),
		q:      newFrameQueue(false, audioMaxAge, audioMaxBytes),
		seq:    uint16(rand.Uint32()),
		ssrc:   rand.Uint32(), // overwritten by the track's binding
		tsBase: rand.Uint32(),
		first:  true,
		log:    log,
	}, nil
}

// onAudio is the source callback: it only queues.
func (a *audioSender) onAudio(frames [][]byte, pts time.Duration, _ time.Time) {
	a.q.push(frames, pts, false)
}

func (a *audioSender) run() {
	for {
		it, ok := a.q.pop()
		if !ok {
			return
		}
		ts := a.tsBase + uint32(ticks(it.pts, a.clock))
		for _, f := range it.frames {
			if len(f) == 0 {
				continue
			}
			if a.opus {
				if !a.write(f, ts) {
					return
				}
				ts += uint32(opus.PacketDuration2(f))
				continue
			}
			for len(f) > 0 {
				n := min(len(f), g711PacketSamples)
				if !a.write(f[:n], ts) {
					return
				}
				ts += uint32(n) // one byte per sample
				f = f[n:]
			}
		}
	}
}

// write sends one packet; false once the track is closed.
func (a *audioSender) write(payload []byte, ts uint32) bool {
	p := &rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         a.first, // the start of a talkspurt (RFC 3551)
			PayloadType:    a.pt,
			SequenceNumber: a.seq,
			Timestamp:      ts,
			SSRC:           a.ssrc,
		},
		Payload: payload,
	}
	a.first = false
	a.seq++
	if err := a.track.WriteRTP(p); err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return false
		}
		a.log.Debug("audio write", "err", err)
	}
	return true
}

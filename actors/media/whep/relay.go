package whep

import (
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
)

// FromRelay is a relay stream as a WHEP source: its H.264 frames (frames
// of another codec are not sent: check relay.Stream.VideoCodec before
// offering) and its audio.
func FromRelay(st *relay.Stream) VideoSource { return relaySource{st} }

type relaySource struct{ st *relay.Stream }

func (r relaySource) SubscribeAU(fn func(au [][]byte, pts time.Duration, ntp time.Time)) func() {
	return r.st.SubscribeVideo(func(f relay.Frame) {
		if f.Codec == relay.CodecH264 {
			fn(f.NALUs, f.PTS, f.NTP)
		}
	})
}

func (r relaySource) AudioCodec() (codec string, clockRate, channels int) {
	a, ok := r.st.Audio()
	if !ok {
		return "", 0, 0
	}
	return string(a.Codec), a.ClockRate, a.Channels
}

func (r relaySource) SubscribeAudio(fn func(frames [][]byte, pts time.Duration, ntp time.Time)) func() {
	return r.st.SubscribeAudio(func(f relay.AudioFrame) { fn(f.Frames, f.PTS, f.NTP) })
}

package whep

import "time"

// VideoSource is a live H.264 stream: access units (NALUs without start
// codes; IDR ones carry SPS/PPS in front), pts on one continuous clock, ntp
// wall clock. Delivery starts with the cached GOP (from its IDR) when there
// is one — so a new reader gets a keyframe at once — then live. fn must not
// block and must not call back into the source.
type VideoSource interface {
	SubscribeAU(fn func(au [][]byte, pts time.Duration, ntp time.Time)) (unsubscribe func())
}

// AudioSource is optional (type-assert the VideoSource): audio frames as
// they come (Opus packets, or G.711 sample blocks), with pts.
type AudioSource interface {
	// AudioCodec is "opus", "pcma", "pcmu", "aac" or "" (no audio); clock
	// rate and channels of the track.
	AudioCodec() (codec string, clockRate, channels int)
	SubscribeAudio(fn func(frames [][]byte, pts time.Duration, ntp time.Time)) (unsubscribe func())
}

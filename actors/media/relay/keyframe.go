package relay

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Keyframe is a stream's latest random-access picture.
type Keyframe struct {
	// AnnexB is the access unit as an Annex-B elementary stream with its
	// parameter sets in front (what a decoder needs to make one picture).
	AnnexB []byte
	Codec  Codec
	At     time.Time // when it arrived
}

// Keyframe is the stream's latest random-access unit; ok false until the
// stream has one.
//
// It is kept even when its GOP is too long to cache, and after the source
// goes (At tells how old it is); Close drops it. AnnexB is a copy: the
// caller may keep it.
func (st *Stream) Keyframe() (kf Keyframe, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.idrAU == nil || st.video == nil || st.video.video.codec() != st.idrCodec {
		return Keyframe{}, false
	}
	// onAULocked put the parameter sets in front (withParams) when the
	// camera sent them only in the SDP or before the IDR; without any, no
	// decoder can use it.
	if !st.video.video.complete(st.idrAU) {
		return Keyframe{}, false
	}
	// Annex-B framing is the same for H.264 and H.265; a new buffer: nothing shared
	buf, err := h264.AnnexB(st.idrAU).Marshal()
	if err != nil {
		return Keyframe{}, false
	}
	return Keyframe{AnnexB: buf, Codec: st.idrCodec, At: st.idrAt}, true
}

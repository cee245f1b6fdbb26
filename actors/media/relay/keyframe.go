package relay

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Keyframe is the stream's latest IDR access unit as Annex-B H.264 with its
// SPS and PPS in front (what a decoder needs to make one picture), and when
// it arrived; ok false until the stream has one.
//
// The IDR is kept even when its GOP is too long to cache, and after the
// source goes (at tells how old it is); Close drops it. annexB is a copy:
// the caller may keep it.
func (st *Stream) Keyframe() (annexB []byte, at time.Time, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.idrAU == nil {
		return nil, time.Time{}, false
	}
	// onAULocked put the parameter sets in front of the IDR (withParams)
	// when the camera sent them only in the SDP or before the IDR; without
	// any, no decoder can use it.
	if sps, pps := auParams(st.idrAU); sps == nil || pps == nil {
		return nil, time.Time{}, false
	}
	buf, err := h264.AnnexB(st.idrAU).Marshal() // a new buffer: nothing shared
	if err != nil {
		return nil, time.Time{}, false
	}
	return buf, st.idrAt, true
}

package relay

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// rtpNALInfo looks at the NAL unit types an RTP/H264 payload carries
// (RFC 6184: single NAL unit, STAP-A, FU-A) without depacketizing it.
// idr: an IDR slice (or its first fragment); vcl: any coded slice.
func rtpNALInfo(payload []byte) (idr, vcl bool) {
	if len(payload) < 1 {
		return false, false
	}
	classify := func(t h264.NALUType) {
		switch {
		case t == h264.NALUTypeIDR:
			idr, vcl = true, true
		case t >= h264.NALUTypeNonIDR && t < h264.NALUTypeIDR:
			vcl = true
		}
	}
	switch t := h264.NALUType(payload[0] & 0x1f); t {
	case h264.NALUTypeSTAPA:
		p := payload[1:]
		for len(p) >= 2 {
			n := int(p[0])<<8 | int(p[1])
			p = p[2:]
			if n == 0 || n > len(p) {
				break
			}
			classify(h264.NALUType(p[0] & 0x1f))
			p = p[n:]
		}
	case h264.NALUTypeFUA:
		if len(payload) >= 2 && payload[1]&0x80 != 0 { // start fragment
			classify(h264.NALUType(payload[1] & 0x1f))
		} else if len(payload) >= 2 {
			// continuation: a slice, but not where a picture starts
			t2 := h264.NALUType(payload[1] & 0x1f)
			if t2 >= h264.NALUTypeNonIDR && t2 <= h264.NALUTypeIDR {
				vcl = true
			}
		}
	default:
		classify(t)
	}
	return idr, vcl
}

// auParams returns the SPS and PPS an access unit carries, if any.
func auParams(au [][]byte) (sps, pps []byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	return sps, pps
}

// withParams returns au with SPS and PPS in front when it is an IDR access
// unit that lacks them (decoders and fMP4/MPEG-TS segments need them at
// every random access point). Other access units are returned unchanged.
func withParams(au [][]byte, sps, pps []byte) [][]byte {
	if sps == nil || pps == nil || !h264.IsRandomAccess(au) {
		return au
	}
	hasSPS, hasPPS := auParams(au)
	if hasSPS != nil && hasPPS != nil {
		return au
	}
	out := make([][]byte, 0, len(au)+2)
	// keep an access unit delimiter first if there is one
	i := 0
	if len(au) > 0 && len(au[0]) > 0 && h264.NALUType(au[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		out = append(out, au[0])
		i = 1
	}
	if hasSPS == nil {
		out = append(out, sps)
	}
	if hasPPS == nil {
		out = append(out, pps)
	}
	return append(out, au[i:]...)
}

// hasVCL reports whether an access unit carries a coded slice.
func hasVCL(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 {
			if t := h264.NALUType(n[0] & 0x1f); t >= h264.NALUTypeNonIDR && t <= h264.NALUTypeIDR {
				return true
			}
		}
	}
	return false
}

package fakecam

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// encoderArgsH265 are encoderArgs for H265: x265 at the H264 clips' size,
// rate, bitrate and GOP; no B-frames (RTP timestamps are presentation
// order, the pacer sends decode order); closed GOPs so every keyframe is
// an IDR a view can switch at and a loop can restart from; VPS/SPS/PPS
// before every keyframe; raw Annex-B on stdout.
func encoderArgsH265(k clipKey) []string {
	br := strconv.Itoa(k.bitrate)
	gop := strconv.Itoa(k.gop)
	return []string{
		"-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
		"-profile:v", "main", "-pix_fmt", "yuv420p",
		"-b:v", br, "-maxrate", br, "-bufsize", br,
		"-x265-params", "keyint=" + gop + ":min-keyint=" + gop +
			":scenecut=0:bframes=0:open-gop=0:repeat-headers=1:log-level=error",
		"-f", "hevc", "-",
	}
}

func h265Type(nalu []byte) h265.NALUType { return h265.NALUType((nalu[0] >> 1) & 0x3f) }

func isVCLH265(t h265.NALUType) bool { return t <= h265.NALUType_RSV_IRAP_VCL23 }

func isIDRH265(t h265.NALUType) bool {
	return t == h265.NALUType_IDR_W_RADL || t == h265.NALUType_IDR_N_LP
}

// firstSliceSegmentH265 reports whether a slice segment starts a picture:
// first_slice_segment_in_pic_flag, the first bit after the two-byte NALU
// header.
func firstSliceSegmentH265(nalu []byte) bool {
	return len(nalu) >= 3 && nalu[2]&0x80 != 0
}

// startsAUH265 reports whether a non-VCL NALU after a picture's slices
// begins the next access unit (ITU-T H.265 7.4.2.4.4): AUD, VPS, SPS,
// PPS, prefix SEI and the reserved types 41..44 and 48..55.
func startsAUH265(t h265.NALUType) bool {
	switch {
	case t >= h265.NALUType_VPS_NUT && t <= h265.NALUType_AUD_NUT,
		t == h265.NALUType_PREFIX_SEI_NUT,
		t >= 41 && t <= 44, t >= 48 && t <= 55:
		return true
	}
	return false
}

// parseClipH265 is parseClip for H265: it groups the NALUs into access
// units, drops AUDs, SEIs, filler and end-of-sequence/bitstream NALUs,
// and puts VPS+SPS+PPS in front of every random access unit (IDR, CRA)
// and nowhere else.
func parseClipH265(buf []byte) (*clip, error) {
	nalus, err := splitAnnexB(buf)
	if err != nil {
		return nil, err
	}
	c := &clip{}
	var cur [][]byte
	curHasVCL := false
	flush := func() {
		if curHasVCL {
			c.aus = append(c.aus, accessUnit{nalus: cur})
		}
		cur, curHasVCL = nil, false
	}
	for _, n := range nalus {
		if len(n) < 2 {
			continue // not even a NALU header
		}
		t := h265Type(n)
		switch {
		case isVCLH265(t):
			if curHasVCL && firstSliceSegmentH265(n) {
				flush()
			}
		case startsAUH265(t):
			if curHasVCL {
				flush()
			}
		}
		switch t {
		case h265.NALUType_VPS_NUT:
			if c.vps == nil {
				c.vps = n
			}
			continue
		case h265.NALUType_SPS_NUT:
			if c.sps == nil {
				c.sps = n
			}
			continue
		case h265.NALUType_PPS_NUT:
			if c.pps == nil {
				c.pps = n
			}
			continue
		case h265.NALUType_AUD_NUT, h265.NALUType_PREFIX_SEI_NUT, h265.NALUType_SUFFIX_SEI_NUT,
			h265.NALUType_FD_NUT, h265.NALUType_EOS_NUT, h265.NALUType_EOB_NUT:
			continue // not sent
		}
		cur = append(cur, n)
		if isVCLH265(t) {
			curHasVCL = true
		}
	}
	flush()

	if c.vps == nil || c.sps == nil || c.pps == nil {
		return nil, errors.New("no VPS/SPS/PPS in stream")
	}
	var sps h265.SPS
	if err := sps.Unmarshal(c.sps); err != nil {
		return nil, fmt.Errorf("SPS: %w", err)
	}
	c.width, c.height = sps.Width(), sps.Height()
	if len(c.aus) == 0 {
		return nil, errors.New("no access units")
	}
	for i := range c.aus {
		au := &c.aus[i]
		au.idr = h265.IsRandomAccess(au.nalus)
		if au.idr {
			// The parameter sets were dropped above: they travel with
			// every random access unit, as the SDP's (the first ones).
			au.nalus = append([][]byte{c.vps, c.sps, c.pps}, au.nalus...)
		}
	}
	if first := c.aus[0]; !first.idr || !isIDRH265(h265Type(first.nalus[3])) {
		return nil, errors.New("clip does not start with an IDR")
	}
	return c, nil
}

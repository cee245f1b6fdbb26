package relay

import (
	"bytes"
	"errors"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// h264Codec is the H.264 video of a stream (RFC 6184).
type h264Codec struct {
	f        *format.H264
	dec      *rtph264.Decoder
	sps, pps []byte
}

func newH264Codec(f *format.H264) *h264Codec {
	// copy the parameter sets: SafeSetParams replaces them later
	f.SPS, f.PPS = cloneParam(f.SPS), cloneParam(f.PPS)
	return &h264Codec{f: f, sps: f.SPS, pps: f.PPS}
}

func (c *h264Codec) codec() Codec { return CodecH264 }

func (c *h264Codec) resetDecoder() error {
	dec, err := c.f.CreateDecoder()
	c.dec = dec
	return err
}

func (c *h264Codec) decode(pkt *rtp.Packet) ([][]byte, error) {
	if c.dec == nil {
		return nil, errSkipPacket
	}
	au, err := c.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded):
		return nil, errMorePackets
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		return nil, errSkipPacket
	}
	return au, err
}

// packetInfo looks at the NAL unit types an RTP/H264 payload carries
// (single NAL unit, STAP-A, FU-A) without depacketizing it.
func (c *h264Codec) packetInfo(payload []byte) (idr, vcl bool) {
	return rtpNALInfo(payload)
}

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

// H264Params returns the SPS and PPS an H.264 access unit carries, if any.
func H264Params(au [][]byte) (sps, pps []byte) {
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

func (c *h264Codec) learn(au [][]byte) bool {
	sps, pps := H264Params(au)
	changed := false
	if sps != nil && !bytes.Equal(sps, c.sps) {
		c.sps = cloneParam(sps)
		changed = true
	}
	if pps != nil && !bytes.Equal(pps, c.pps) {
		c.pps = cloneParam(pps)
		changed = true
	}
	if !changed || c.sps == nil || c.pps == nil {
		return false
	}
	c.f.SafeSetParams(c.sps, c.pps)
	return true
}

func (c *h264Codec) refresh(f format.Format) bool {
	nf, ok := f.(*format.H264)
	if !ok || nf.SPS == nil || nf.PPS == nil {
		return false
	}
	if bytes.Equal(nf.SPS, c.sps) && bytes.Equal(nf.PPS, c.pps) {
		return false
	}
	c.sps, c.pps = cloneParam(nf.SPS), cloneParam(nf.PPS)
	c.f.SafeSetParams(c.sps, c.pps)
	return true
}

func (c *h264Codec) isRandomAccess(au [][]byte) bool { return h264.IsRandomAccess(au) }

func (c *h264Codec) withParams(au [][]byte) [][]byte {
	if c.sps == nil || c.pps == nil || !h264.IsRandomAccess(au) {
		return au
	}
	hasSPS, hasPPS := H264Params(au)
	if hasSPS != nil && hasPPS != nil {
		return au
	}
	var sps, pps []byte
	if hasSPS == nil {
		sps = c.sps
	}
	if hasPPS == nil {
		pps = c.pps
	}
	aud := len(au[0]) > 0 && h264.NALUType(au[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter
	return insertParams(au, aud, sps, pps)
}

func (c *h264Codec) complete(au [][]byte) bool {
	sps, pps := H264Params(au)
	return sps != nil && pps != nil
}

// hasVCL reports whether an access unit carries a coded slice.
func (c *h264Codec) hasVCL(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 {
			if t := h264.NALUType(n[0] & 0x1f); t >= h264.NALUTypeNonIDR && t <= h264.NALUTypeIDR {
				return true
			}
		}
	}
	return false
}

func (c *h264Codec) hlsTrack() *gohlslib.Track {
	return &gohlslib.Track{Codec: &codecs.H264{SPS: c.sps, PPS: c.pps}, ClockRate: 90000}
}

// hlsVariant: MPEG-TS plays in every HLS player (hls.js, Safari, ffmpeg).
func (c *h264Codec) hlsVariant() gohlslib.MuxerVariant { return gohlslib.MuxerVariantMPEGTS }

func (c *h264Codec) hlsWrite(m *gohlslib.Muxer, t *gohlslib.Track, ntp time.Time, pts int64, au [][]byte) error {
	return m.WriteH264(t, ntp, pts, au)
}

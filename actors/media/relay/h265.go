package relay

import (
	"bytes"
	"errors"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// h265Codec is the H.265 video of a stream (RFC 7798, without DONL: the
// decoder, like most cameras, uses sprop-max-don-diff 0).
type h265Codec struct {
	f             *format.H265
	dec           *rtph265.Decoder
	vps, sps, pps []byte
}

func newH265Codec(f *format.H265) *h265Codec {
	f.VPS, f.SPS, f.PPS = cloneParam(f.VPS), cloneParam(f.SPS), cloneParam(f.PPS)
	return &h265Codec{f: f, vps: f.VPS, sps: f.SPS, pps: f.PPS}
}

func (c *h265Codec) codec() Codec { return CodecH265 }

func (c *h265Codec) resetDecoder() error {
	dec, err := c.f.CreateDecoder()
	c.dec = dec
	return err
}

func (c *h265Codec) decode(pkt *rtp.Packet) ([][]byte, error) {
	if c.dec == nil {
		return nil, errSkipPacket
	}
	au, err := c.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph265.ErrMorePacketsNeeded):
		return nil, errMorePackets
	case errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious):
		return nil, errSkipPacket
	}
	return au, err
}

func h265Type(b byte) h265.NALUType { return h265.NALUType((b >> 1) & 0x3f) }

// h265Random: the pictures h265.IsRandomAccess accepts (IDR and CRA).
func h265Random(t h265.NALUType) bool {
	return t == h265.NALUType_IDR_W_RADL || t == h265.NALUType_IDR_N_LP || t == h265.NALUType_CRA_NUT
}

// h265VCL: NAL unit types 0–31 are coded slices.
func h265VCL(t h265.NALUType) bool { return t < h265.NALUType_VPS_NUT }

// packetInfo looks at the NAL unit types an RTP/H265 payload carries
// (single NAL unit, aggregation packet, fragmentation unit).
func (c *h265Codec) packetInfo(payload []byte) (random, vcl bool) {
	if len(payload) < 2 {
		return false, false
	}
	classify := func(t h265.NALUType) {
		random = random || h265Random(t)
		vcl = vcl || h265VCL(t)
	}
	switch t := h265Type(payload[0]); t {
	case h265.NALUType_AggregationUnit:
		p := payload[2:]
		for len(p) >= 2 {
			n := int(p[0])<<8 | int(p[1])
			p = p[2:]
			if n == 0 || n > len(p) {
				break
			}
			classify(h265Type(p[0]))
			p = p[n:]
		}
	case h265.NALUType_FragmentationUnit:
		if len(payload) < 3 {
			return false, false
		}
		ft := h265.NALUType(payload[2] & 0x3f)
		if payload[2]&0x80 != 0 { // start fragment
			classify(ft)
		} else {
			// continuation: a slice, but not where a picture starts
			vcl = h265VCL(ft)
		}
	case h265.NALUType_PACI:
	default:
		classify(t)
	}
	return random, vcl
}

// H265Params returns the VPS, SPS and PPS an H.265 access unit carries,
// if any.
func H265Params(au [][]byte) (vps, sps, pps []byte) {
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch h265Type(n[0]) {
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		}
	}
	return vps, sps, pps
}

func (c *h265Codec) known() bool { return c.vps != nil && c.sps != nil && c.pps != nil }

func (c *h265Codec) learn(au [][]byte) bool {
	vps, sps, pps := H265Params(au)
	changed := false
	for _, p := range []struct{ in, cur *[]byte }{{&vps, &c.vps}, {&sps, &c.sps}, {&pps, &c.pps}} {
		if *p.in != nil && !bytes.Equal(*p.in, *p.cur) {
			*p.cur = cloneParam(*p.in)
			changed = true
		}
	}
	if !changed || !c.known() {
		return false
	}
	c.f.SafeSetParams(c.vps, c.sps, c.pps)
	return true
}

func (c *h265Codec) refresh(f format.Format) bool {
	nf, ok := f.(*format.H265)
	if !ok || nf.VPS == nil || nf.SPS == nil || nf.PPS == nil {
		return false
	}
	if bytes.Equal(nf.VPS, c.vps) && bytes.Equal(nf.SPS, c.sps) && bytes.Equal(nf.PPS, c.pps) {
		return false
	}
	c.vps, c.sps, c.pps = cloneParam(nf.VPS), cloneParam(nf.SPS), cloneParam(nf.PPS)
	c.f.SafeSetParams(c.vps, c.sps, c.pps)
	return true
}

func (c *h265Codec) isRandomAccess(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h265Random(h265Type(n[0])) {
			return true
		}
	}
	return false
}

func (c *h265Codec) withParams(au [][]byte) [][]byte {
	if !c.known() || !c.isRandomAccess(au) {
		return au
	}
	vps, sps, pps := H265Params(au)
	if vps != nil && sps != nil && pps != nil {
		return au
	}
	add := func(have, known []byte) []byte {
		if have == nil {
			return known
		}
		return nil
	}
	aud := len(au[0]) > 0 && h265Type(au[0][0]) == h265.NALUType_AUD_NUT
	return insertParams(au, aud, add(vps, c.vps), add(sps, c.sps), add(pps, c.pps))
}

func (c *h265Codec) complete(au [][]byte) bool {
	vps, sps, pps := H265Params(au)
	return vps != nil && sps != nil && pps != nil
}

func (c *h265Codec) hasVCL(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h265VCL(h265Type(n[0])) {
			return true
		}
	}
	return false
}

func (c *h265Codec) hlsTrack() *gohlslib.Track {
	return &gohlslib.Track{Codec: &codecs.H265{VPS: c.vps, SPS: c.sps, PPS: c.pps}, ClockRate: 90000}
}

// hlsVariant: MPEG-TS HLS carries H.264 only; H.265 goes in fMP4 segments
// (Safari, ffmpeg, VLC; not Chromium, which lacks an H.265 decoder).
func (c *h265Codec) hlsVariant() gohlslib.MuxerVariant { return gohlslib.MuxerVariantFMP4 }

func (c *h265Codec) hlsWrite(m *gohlslib.Muxer, t *gohlslib.Track, ntp time.Time, pts int64, au [][]byte) error {
	return m.WriteH265(t, ntp, pts, au)
}

package record

import (
	"bytes"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/argus-vms/argus/actors/media/relay"
)

// videoCodec is what recording a codec needs beyond the fMP4 framing,
// which is the same for H.264 and H.265 (length-prefixed NALUs).
type videoCodec interface {
	// sampleEntry is the fMP4 sample description a random-access unit's
	// parameter sets make; nil when one is missing.
	sampleEntry(au [][]byte) codecs.Codec
	// sameParams reports whether the random-access unit au carries the
	// parameter sets of entry (or none).
	sameParams(au [][]byte, entry codecs.Codec) bool
	// newRefs follows reference pictures to notice lost ones.
	newRefs(entry codecs.Codec) refTracker
	// newDTS derives decode times from presentation times.
	newDTS() dtsExtractor
	// validNALU checks a NAL unit header in a recovered sample.
	validNALU(n []byte) bool
}

// refTracker reports whether an access unit continues the chain of
// reference pictures (random-access units restart it) and advances it.
type refTracker interface {
	follows(au [][]byte) bool
}

type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// codecOf returns the recording side of a relay codec (nil: not recordable).
func codecOf(c relay.Codec) videoCodec {
	switch c {
	case relay.CodecH264:
		return h264Codec{}
	case relay.CodecH265:
		return h265Codec{}
	}
	return nil
}

// codecOfEntry returns the codec of an fMP4 sample description (recovery).
func codecOfEntry(c codecs.Codec) videoCodec {
	switch c.(type) {
	case *codecs.H264:
		return h264Codec{}
	case *codecs.H265:
		return h265Codec{}
	}
	return nil
}

type h264Codec struct{}

func (h264Codec) sampleEntry(au [][]byte) codecs.Codec {
	sps, pps := relay.H264Params(au)
	if sps == nil || pps == nil {
		return nil
	}
	return &codecs.H264{SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
}

func (h264Codec) sameParams(au [][]byte, entry codecs.Codec) bool {
	e, ok := entry.(*codecs.H264)
	if !ok {
		return false
	}
	sps, pps := relay.H264Params(au)
	return (sps == nil || bytes.Equal(sps, e.SPS)) && (pps == nil || bytes.Equal(pps, e.PPS))
}

func (h264Codec) newRefs(entry codecs.Codec) refTracker {
	c := &refChain{}
	c.init(entry.(*codecs.H264).SPS)
	return c
}

func (h264Codec) newDTS() dtsExtractor {
	d := &h264.DTSExtractor{}
	d.Initialize()
	return d
}

func (h264Codec) validNALU(n []byte) bool {
	typ := h264.NALUType(n[0] & 0x1f)
	return n[0]&0x80 == 0 && typ != 0 && typ <= 23
}

type h265Codec struct{}

func (h265Codec) sampleEntry(au [][]byte) codecs.Codec {
	vps, sps, pps := relay.H265Params(au)
	if vps == nil || sps == nil || pps == nil {
		return nil
	}
	return &codecs.H265{VPS: bytes.Clone(vps), SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
}

func (h265Codec) sameParams(au [][]byte, entry codecs.Codec) bool {
	e, ok := entry.(*codecs.H265)
	if !ok {
		return false
	}
	vps, sps, pps := relay.H265Params(au)
	return (vps == nil || bytes.Equal(vps, e.VPS)) && (sps == nil || bytes.Equal(sps, e.SPS)) &&
		(pps == nil || bytes.Equal(pps, e.PPS))
}

// newRefs: H.265 reference picture sets are not followed (a loss shows
// until the next random access point, as in most recorders).
func (h265Codec) newRefs(codecs.Codec) refTracker { return anyRefs{} }

func (h265Codec) newDTS() dtsExtractor {
	d := &h265.DTSExtractor{}
	d.Initialize()
	return d
}

func (h265Codec) validNALU(n []byte) bool {
	// forbidden_zero_bit clear, a known type, nuh_temporal_id_plus1 ≥ 1
	return len(n) >= 2 && n[0]&0x80 == 0 && (n[0]>>1)&0x3f <= 40 && n[1]&0x07 != 0
}

type anyRefs struct{}

func (anyRefs) follows([][]byte) bool { return true }

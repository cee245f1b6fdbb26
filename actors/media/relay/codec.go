package relay

import (
	"errors"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// Codec names a video codec the relay understands beyond forwarding its
// packets: it caches its GOPs, decodes its access units for HLS and
// subscribers (recorders, motion, WebRTC) and keeps its keyframe.
type Codec string

// The video codecs of the relay.
const (
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
)

// videoCodec is the codec-specific half of a stream's video track: how an
// RTP payload shows random access points and coded slices, how packets
// become access units, and which parameter sets an access unit needs in
// front. The fan-out, the caches and the subscribers (stream.go, gop.go,
// video.go) do not depend on the codec. It is used under Stream.mu.
type videoCodec interface {
	codec() Codec
	// packetInfo classifies an RTP payload without depacketizing it:
	// random, it starts a random-access picture; vcl, it carries a slice.
	packetInfo(payload []byte) (random, vcl bool)
	// resetDecoder starts depacketizing afresh (a new source session).
	resetDecoder() error
	// decode depacketizes: errMorePackets while the access unit goes on,
	// errSkipPacket for a packet to drop.
	decode(pkt *rtp.Packet) ([][]byte, error)
	// learn keeps the parameter sets au carries and reports whether they
	// changed (then the outward format carries the new ones).
	learn(au [][]byte) bool
	// refresh takes the parameter sets of a reconnected source's format
	// and reports whether they changed.
	refresh(f format.Format) bool
	hasVCL(au [][]byte) bool
	isRandomAccess(au [][]byte) bool
	// withParams returns au with the known parameter sets in front when it
	// is a random-access unit lacking them (decoders and segments need them
	// at every random access point); other units are returned unchanged.
	withParams(au [][]byte) [][]byte
	// complete reports whether au carries every parameter set a decoder
	// needs to make a picture of it.
	complete(au [][]byte) bool
	// hlsTrack is a gohlslib track of the current parameters; hlsVariant
	// the HLS variant that can carry the codec.
	hlsTrack() *gohlslib.Track
	hlsVariant() gohlslib.MuxerVariant
	hlsWrite(m *gohlslib.Muxer, t *gohlslib.Track, ntp time.Time, pts int64, au [][]byte) error
}

// Depacketizer outcomes that are not errors.
var (
	errMorePackets = errors.New("relay: more packets needed")
	errSkipPacket  = errors.New("relay: packet skipped")
)

// newVideoCodec returns the codec of a format, nil for formats the relay
// only forwards. f is the outward copy: the codec updates its parameters.
func newVideoCodec(f format.Format) videoCodec {
	switch f := f.(type) {
	case *format.H264:
		return newH264Codec(f)
	case *format.H265:
		return newH265Codec(f)
	}
	return nil
}

// cloneParam copies a parameter set (nil when empty), so that the outward
// format never shares a buffer with the source's.
func cloneParam(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// insertParams puts params in front of au, after an access unit delimiter
// if au starts with one.
func insertParams(au [][]byte, isAUD bool, params ...[]byte) [][]byte {
	out := make([][]byte, 0, len(au)+len(params))
	i := 0
	if isAUD {
		out = append(out, au[0])
		i = 1
	}
	for _, p := range params {
		if p != nil {
			out = append(out, p)
		}
	}
	return append(out, au[i:]...)
}

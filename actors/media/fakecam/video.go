package fakecam

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/pion/rtp"
)

// Video codecs of Options.Codec. The names double as the cache files'
// extensions, so the H264 clips keep the names they always had.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// videoFormat is the RTP format a stream of cl announces: payload type
// 96, the parameter sets of the base clip (readers get them in-band
// too, before every IDR).
func videoFormat(codec string, cl *clip) format.Format {
	if codec == CodecH265 {
		return &format.H265{PayloadTyp: 96, VPS: cl.vps, SPS: cl.sps, PPS: cl.pps}
	}
	return &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: cl.sps, PPS: cl.pps}
}

// videoEncoder packetizes one access unit; rtph264 and rtph265 encoders
// both are one.
type videoEncoder interface {
	Encode(nalus [][]byte) ([]*rtp.Packet, error)
}

// newBaseEncoder is the format's own RTP encoder (random SSRC and first
// sequence number), and its SSRC for the paths' encoders.
func newBaseEncoder(forma format.Format) (videoEncoder, uint32, error) {
	switch f := forma.(type) {
	case *format.H264:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, 0, err
		}
		return e, *e.SSRC, nil
	case *format.H265:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, 0, err
		}
		return e, *e.SSRC, nil
	}
	return nil, 0, fmt.Errorf("fakecam: no RTP encoder for %T", forma)
}

// newPathEncoder is an RTP encoder for one path leaving the base clip:
// the base stream's SSRC, continuing its sequence numbers from seq (a
// random start when nil), so readers see one stream.
func newPathEncoder(forma format.Format, ssrc uint32, seq *uint16) (videoEncoder, error) {
	switch f := forma.(type) {
	case *format.H264:
		e := &rtph264.Encoder{
			PayloadType:           f.PayloadTyp,
			PacketizationMode:     f.PacketizationMode,
			SSRC:                  &ssrc,
			InitialSequenceNumber: seq,
		}
		return e, e.Init()
	case *format.H265:
		e := &rtph265.Encoder{
			PayloadType:           f.PayloadTyp,
			SSRC:                  &ssrc,
			InitialSequenceNumber: seq,
		}
		return e, e.Init()
	}
	return nil, fmt.Errorf("fakecam: no RTP encoder for %T", forma)
}

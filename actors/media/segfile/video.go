package segfile

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Video codec names, as the relay and the API spell them.
const (
	H264 = "h264"
	H265 = "h265"
)

// VideoCodec names a video track's codec: H264, H265, or "" for a track
// that is neither.
func (t Track) VideoCodec() string {
	switch t.Codec.(type) {
	case *codecs.H264:
		return H264
	case *codecs.H265:
		return H265
	}
	return ""
}

// PictureSize is a video track's picture size, from its SPS.
func (t Track) PictureSize() (width, height int, err error) {
	switch c := t.Codec.(type) {
	case *codecs.H264:
		var sps h264.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return 0, 0, fmt.Errorf("segfile: SPS: %w", err)
		}
		return sps.Width(), sps.Height(), nil
	case *codecs.H265:
		var sps h265.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return 0, 0, fmt.Errorf("segfile: SPS: %w", err)
		}
		return sps.Width(), sps.Height(), nil
	}
	return 0, 0, errors.New("segfile: not an H.264 or H.265 track")
}

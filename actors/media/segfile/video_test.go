package segfile

import (
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

func TestVideoTrack(t *testing.T) {
	v := Track{ID: VideoTrackID, TimeScale: VideoTimescale, Codec: &codecs.H264{SPS: sps, PPS: pps}}
	if c := v.VideoCodec(); c != H264 {
		t.Errorf("VideoCodec = %q, want %q", c, H264)
	}
	w, h, err := v.PictureSize()
	if err != nil || w != 640 || h != 360 {
		t.Errorf("PictureSize = %dx%d, %v; want 640x360", w, h, err)
	}
	a := Track{ID: AudioTrackID, TimeScale: 8000, G711: &G711{SampleRate: 8000, ChannelCount: 1}}
	if c := a.VideoCodec(); c != "" {
		t.Errorf("an audio track's VideoCodec = %q", c)
	}
	if _, _, err := a.PictureSize(); err == nil {
		t.Error("an audio track has a picture size")
	}
}

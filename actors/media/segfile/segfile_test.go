package segfile

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// sps/pps of a 640x360 H.264 stream.
var (
	sps = []byte{0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96}
	pps = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
)

// Every audio track a recording may have survives Marshal then Unmarshal,
// G.711 as its own alaw/ulaw sample entry.
func TestInitRoundTrip(t *testing.T) {
	video := Track{ID: VideoTrackID, TimeScale: VideoTimescale, Codec: &codecs.H264{SPS: sps, PPS: pps}}
	for _, tc := range []struct {
		name  string
		audio *Track
		entry string
	}{
		{"video only", nil, ""},
		{"aac", &Track{ID: AudioTrackID, TimeScale: 48000, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
			Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 1, ChannelCount: 1}}}, "mp4a"},
		{"opus", &Track{ID: AudioTrackID, TimeScale: 48000, Codec: &codecs.Opus{ChannelCount: 1}}, "Opus"},
		{"pcma", &Track{ID: AudioTrackID, TimeScale: 8000, G711: &G711{SampleRate: 8000, ChannelCount: 1}}, "alaw"},
		{"pcmu", &Track{ID: AudioTrackID, TimeScale: 8000, G711: &G711{MULaw: true, SampleRate: 8000, ChannelCount: 1}}, "ulaw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Init{Tracks: []Track{video}}
			if tc.audio != nil {
				in.Tracks = append(in.Tracks, *tc.audio)
			}
			var buf seekablebuffer.Buffer
			if err := in.Marshal(&buf); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			if tc.entry != "" && !bytes.Contains(b, []byte(tc.entry)) {
				t.Errorf("no %s sample entry in the init", tc.entry)
			}
			if tc.audio != nil && tc.audio.G711 != nil && bytes.Contains(b, []byte("ipcm")) {
				t.Error("the G.711 track is still an ipcm entry")
			}
			var out Init
			if err := out.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.Tracks, in.Tracks) {
				t.Fatalf("read back %+v, wrote %+v", out.Tracks, in.Tracks)
			}
			if v := out.Video(); v == nil || v.ID != VideoTrackID {
				t.Errorf("Video() = %+v", v)
			}
			if a := out.Audio(); (a != nil) != (tc.audio != nil) {
				t.Errorf("Audio() = %+v", a)
			}
		})
	}
}

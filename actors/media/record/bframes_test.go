package record

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
)

// Cameras often send B-frames (main/high profile): PTS go back and forth,
// DTS come from the DTS extractor. The access units of an x264 main-profile
// stream with B-frames, fed to the writer with their PTS as the relay
// would, make playable segments cut at 10 s.
func TestRecordBFrames(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "25",
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-bf", "2", "-b_strategy", "0",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-x264-params", "repeat-headers=1",
		"-f", "mpegts", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}

	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := relay.NewStream(relay.Key{Device: "bcam", Channel: 1})
	defer src.Close()
	var segs segments
	r, err := Start(Config{Key: "bcam~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}

	rd := &mpegts.Reader{R: bytes.NewReader(ts)}
	if err := rd.Initialize(); err != nil {
		t.Fatal(err)
	}
	var track *mpegts.Track
	for _, tr := range rd.Tracks() {
		if _, ok := tr.Codec.(*tscodecs.H264); ok {
			track = tr
		}
	}
	if track == nil {
		t.Fatal("no H264 track")
	}
	base := time.Now().Add(-25 * time.Second)
	var first int64 = -1
	n, reordered := 0, 0
	var prevPTS int64
	rd.OnDataH264(track, func(pts, _ int64, au [][]byte) error {
		if first < 0 {
			first = pts
		}
		if pts < prevPTS {
			reordered++
		}
		prevPTS = pts
		d := ticksToDuration(pts - first)
		r.in <- auItem{au: au, codec: relay.CodecH264, random: h264.IsRandomAccess(au), pts: d, ntp: base.Add(d)}
		n++
		return nil
	})
	for rd.Read() == nil {
	}
	r.Stop()
	if reordered == 0 {
		t.Fatal("the stream has no B-frames")
	}
	t.Logf("%d access units, %d out of presentation order", n, reordered)

	got := segs.get()
	if len(got) != 3 {
		t.Fatalf("%d segments, want 3", len(got))
	}
	for i, seg := range got {
		pi := checkSegment(t, st, seg, "bcam~1")
		t.Logf("%s: %.3f s, start %.3f", seg.Key, pi.Duration, pi.StartTime)
		if i < 2 && (pi.Duration < 9.9 || pi.Duration > 10.1) {
			t.Errorf("segment %d lasts %.3f s", i, pi.Duration)
		}
	}
}

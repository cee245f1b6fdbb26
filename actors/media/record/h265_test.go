package record

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/storage"
)

// TestRecordH265: an H.265 camera records fMP4 segments with an hvc1
// track that ffmpeg decodes cleanly, and crash recovery reads them.
func TestRecordH265(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, Codec: fakecam.CodecH265, Width: 320, Height: 180, Log: testLog(t)})
	src := startRelay(t, cam.URL("cam1"), "cam1")
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var segs segments
	r, err := Start(Config{Key: "cam1~1", SegmentDuration: MinSegmentDuration, Storage: local, OnSegment: segs.add, Log: testLog(t)}, src)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2*MinSegmentDuration + 2*time.Second)
	r.Stop()
	got := segs.get()
	if len(got) < 2 {
		t.Fatalf("%d segments, want ≥ 2", len(got))
	}
	for _, seg := range got {
		file := fetch(t, local, seg.Key)
		pi := ffprobe(t, file)
		if pi.Codec != "hevc" || pi.Width != 320 || pi.Height != 180 {
			t.Errorf("%s: %s %dx%d, want hevc 320x180", seg.Key, pi.Codec, pi.Width, pi.Height)
		}
		if d := pi.Duration*1000 - float64(seg.DurationMS); d < -50 || d > 50 {
			t.Errorf("%s: ffprobe duration %.3f s vs duration_ms %d", seg.Key, pi.Duration, seg.DurationMS)
		}
		tag, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_tag_string",
			"-of", "default=nw=1:nk=1", file).Output()
		if err != nil || strings.TrimSpace(string(tag)) != "hvc1" {
			t.Errorf("%s: codec tag %q (%v), want hvc1 (what Safari and QuickTime play)", seg.Key, tag, err)
		}
		decodeClean(t, file)

		checkRecoverable(t, seg.Key, file)
	}
}

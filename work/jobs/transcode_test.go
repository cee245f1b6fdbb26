package jobs

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// A 360p+720p transcode of 8 s writes both renditions (4 s segments) and
// a master playlist listing them; each rendition plays at its height.
func TestTranscodeHLS(t *testing.T) {
	env, out := testEnv(t)
	res, master := run(t, env, out, spec(task.TypeTranscode, 1*time.Second, 9*time.Second,
		&pb.TaskParams{Renditions: []string{"720p", "360p"}}))
	if res.Key != "tasks/t1/hls/index.m3u8" || res.ContentType != "application/vnd.apple.mpegurl" {
		t.Errorf("result %v", res)
	}
	if !near(float64(res.DurationMs), 8000, 200) {
		t.Errorf("DurationMs %d, want 8000", res.DurationMs)
	}
	b, err := os.ReadFile(master)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master:\n%s\nfiles %v", b, res.Files)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var uris []string
	for i, l := range lines {
		if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") {
			if !strings.Contains(l, "BANDWIDTH=") || i+1 >= len(lines) {
				t.Errorf("stream %q", l)
				continue
			}
			uris = append(uris, lines[i+1])
		}
	}
	if !slices.Equal(uris, []string{"360p/index.m3u8", "720p/index.m3u8"}) {
		t.Errorf("master lists %v", uris)
	}
	for _, res := range []string{"RESOLUTION=640x360", "RESOLUTION=1280x720"} {
		if !strings.Contains(string(b), res) {
			t.Errorf("master without %s", res)
		}
	}

	dir := filepath.Dir(master)
	var total int64
	for _, f := range res.Files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("file %s: %v", f, err)
			continue
		}
		total += fi.Size()
	}
	if total != res.Bytes {
		t.Errorf("Bytes %d, the files %d", res.Bytes, total)
	}
	for _, want := range []string{"index.m3u8", "360p/index.m3u8", "360p/seg000.ts", "360p/seg001.ts", "720p/index.m3u8", "720p/seg001.ts"} {
		if !slices.Contains(res.Files, want) {
			t.Errorf("Files %v without %s", res.Files, want)
		}
	}
	for name, size := range map[string][2]int{"360p": {640, 360}, "720p": {1280, 720}} {
		p := ffprobe(t, filepath.Join(dir, name, "index.m3u8"))
		if w, h := oneVideo(t, p, "h264"); w != size[0] || h != size[1] {
			t.Errorf("%s: %dx%d, the master says %dx%d", name, w, h, size[0], size[1])
		}
		if d := p.duration(t); !near(d, 8, 0.2) {
			t.Errorf("%s: duration %.3f s", name, d)
		}
		decodeClean(t, filepath.Join(dir, name, "index.m3u8"))
	}
}

// TestTranscodeUnknownUpload: an upload the store does not have is a
// permanent error (another attempt would not find it either).
func TestTranscodeUnknownUpload(t *testing.T) {
	env, _ := testEnv(t)
	env.Upload = func(context.Context, string) (io.ReadCloser, error) { return nil, fs.ErrNotExist }
	_, err := Run(t.Context(), env, Job{ID: "t1", Spec: &pb.TaskSpec{Type: task.TypeTranscode, Source: "up1"}}, nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "up1") {
		t.Fatalf("err %v", err)
	}
}

func TestScaledWidth(t *testing.T) {
	for _, c := range []struct{ h, w, srcH, want int }{
		{360, 320, 180, 640}, {720, 1920, 1080, 1280}, {480, 1920, 1080, 854}, {360, 704, 576, 440},
		{1080, 0, 0, 1920}, {480, 640, 480, 640}, {360, 1280, 1024, 450},
	} {
		if got := scaledWidth(c.h, c.w, c.srcH); got != c.want {
			t.Errorf("scaledWidth(%d, %dx%d) = %d, want %d", c.h, c.w, c.srcH, got, c.want)
		}
	}
}

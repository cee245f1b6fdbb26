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

// A transcode publishes as it goes: the partial result comes while ffmpeg
// still encodes, and what it names is in the storage then — a master
// listing the rendition, whose playlist (starting players at its start,
// not yet ended) lists only segments already up.
func TestTranscodePublishesAsItGoes(t *testing.T) {
	env, out := testEnv(t)
	type seen struct {
		res      *pb.TaskResult
		playlist string
		missing  []string
	}
	var partials []seen
	local := func(key string) string {
		p, err := out.Path(key)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	job := Job{ID: "t1", Spec: spec(task.TypeTranscode, 0, recordSeconds*time.Second, &pb.TaskParams{Renditions: []string{"1080p"}}),
		Partial: func(r *pb.TaskResult) {
			s := seen{res: r}
			for _, f := range r.Files {
				if _, err := os.Stat(local("tasks/t1/hls/" + f)); err != nil {
					s.missing = append(s.missing, f)
				}
			}
			b, _ := os.ReadFile(local("tasks/t1/hls/1080p/index.m3u8"))
			s.playlist = string(b)
			partials = append(partials, s)
		}}
	res, err := Run(t.Context(), env, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(partials) != 1 {
		t.Fatalf("%d partial results, want 1 (the encode took less than a publishing pass?)", len(partials))
	}
	p := partials[0]
	t.Logf("partial: %v\n%s", p.res.Files, p.playlist)
	if len(p.missing) > 0 {
		t.Errorf("the partial result names files not in the storage: %v", p.missing)
	}
	if !slices.Contains(p.res.Files, "index.m3u8") || !slices.Contains(p.res.Files, "1080p/seg000.ts") {
		t.Errorf("partial files %v, want the master and a first segment", p.res.Files)
	}
	if p.res.Key != res.Key {
		t.Errorf("partial key %s, final %s", p.res.Key, res.Key)
	}
	if !strings.Contains(p.playlist, "#EXT-X-PROGRAM-DATE-TIME:"+t0.Format("2006-01-02T15:04:05.000Z")+"\n#EXTINF:") {
		t.Errorf("the playlist does not date its first segment %v:\n%s", t0, p.playlist)
	}
	if !strings.Contains(p.playlist, startTag) || !strings.Contains(p.playlist, "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(p.playlist, "#EXT-X-ENDLIST") {
		t.Errorf("the partial playlist is not a growing one that starts players at its start:\n%s", p.playlist)
	}
	for _, u := range mediaURIs([]byte(p.playlist)) {
		if !slices.Contains(p.res.Files, "1080p/"+u) {
			t.Errorf("the partial playlist lists %s, not up", u)
		}
	}
	if len(res.Files) <= len(p.res.Files) {
		t.Errorf("final files %v, no more than the partial's", res.Files)
	}
	final, err := os.ReadFile(local("tasks/t1/hls/1080p/index.m3u8"))
	if err != nil || !strings.Contains(string(final), "#EXT-X-ENDLIST") {
		t.Errorf("final playlist (%v):\n%s", err, final)
	}
	if d := ffprobe(t, local("tasks/t1/hls/index.m3u8")).duration(t); !near(d, recordSeconds, 0.3) {
		t.Errorf("duration %.3f s, want %d", d, recordSeconds)
	}
}

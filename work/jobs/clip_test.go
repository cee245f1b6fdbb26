package jobs

import (
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// A 6 s clip across two segments is copied into one regular MP4 (moov
// first, no fragments) lasting 6 ± 1 s.
func TestClipCopy(t *testing.T) {
	env, out := testEnv(t)
	res, path := run(t, env, out, spec(task.TypeClip, 7300*time.Millisecond, 13300*time.Millisecond, nil))
	if res.Key != "tasks/t1/clip.mp4" || res.ContentType != "video/mp4" {
		t.Errorf("result %v", res)
	}
	p := ffprobe(t, path)
	if w, h := oneVideo(t, p, "h264"); w != 320 || h != 180 {
		t.Errorf("size %dx%d", w, h)
	}
	t.Logf("clip of 6 s: %.3f s, DurationMs %d", p.duration(t), res.DurationMs)
	if d := p.duration(t); !near(d, 6, 1) {
		t.Errorf("duration %.3f s, want 6 ± 1", d)
	}
	if !near(float64(res.DurationMs), 6000, 1000) {
		t.Errorf("DurationMs %d", res.DurationMs)
	}
	boxes := topBoxes(t, path)
	if slices.Contains(boxes, "moof") || slices.Index(boxes, "moov") > slices.Index(boxes, "mdat") {
		t.Errorf("not a faststart regular MP4: boxes %v", boxes)
	}
	decodeClean(t, path)
}

// A timestamped clip is re-encoded and lasts its range.
func TestClipTimestamp(t *testing.T) {
	env, out := testEnv(t)
	res, path := run(t, env, out, spec(task.TypeClip, 3500*time.Millisecond, 6500*time.Millisecond, &pb.TaskParams{Timestamp: true}))
	p := ffprobe(t, path)
	oneVideo(t, p, "h264")
	if d := p.duration(t); !near(d, 3, 0.2) {
		t.Errorf("duration %.3f s, want 3 (re-encoded: frame-exact)", d)
	}
	if !near(float64(res.DurationMs), 3000, 200) {
		t.Errorf("DurationMs %d", res.DurationMs)
	}
	decodeClean(t, path)
	// The burnt-in clock shows the wall-clock time of each frame: the
	// clip starts at 12:00:03.5, one second in it is 12:00:04.5.
	checkClock(t, path, 0, "2024-05-01 12:00:03", "2024-05-01 12:00:02", "2024-05-01 12:00:04")
	checkClock(t, path, time.Second, "2024-05-01 12:00:04", "2024-05-01 12:00:03", "2024-05-01 12:00:05")
}

// BenchmarkClipCopy measures the clip export (stream copy) of 20 s of
// recording over three segments.
func BenchmarkClipCopy(b *testing.B) {
	env, _ := testEnv(b)
	s := spec(task.TypeClip, 2*time.Second, 22*time.Second, nil)
	for b.Loop() {
		if _, err := Run(b.Context(), env, Job{ID: "b1", Spec: s}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

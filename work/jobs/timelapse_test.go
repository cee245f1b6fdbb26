package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// 10 s at 5× is a 2 s video at 25 fps, without audio.
func TestTimelapse(t *testing.T) {
	env, out := testEnv(t)
	res, path := run(t, env, out, spec(task.TypeTimelapse, 2*time.Second, 12*time.Second, &pb.TaskParams{Speed: 5}))
	if res.Key != "tasks/t1/timelapse.mp4" || res.ContentType != "video/mp4" {
		t.Errorf("result %v", res)
	}
	p := ffprobe(t, path)
	oneVideo(t, p, "h264")
	if d := p.duration(t); !near(d, 2, 0.2) {
		t.Errorf("duration %.3f s, want 2", d)
	}
	if !near(float64(res.DurationMs), 2000, 100) {
		t.Errorf("DurationMs %d", res.DurationMs)
	}
	if fps := p.Streams[0].AvgFrameRate; fps != "25/1" {
		t.Errorf("frame rate %s, want 25/1", fps)
	}
	decodeClean(t, path)
}

// A timestamped timelapse shows the recorded time of each frame: 1 s into
// a 5× timelapse from 12:00:02.5 is 12:00:07.5.
func TestTimelapseTimestamp(t *testing.T) {
	env, out := testEnv(t)
	_, path := run(t, env, out, spec(task.TypeTimelapse, 2500*time.Millisecond, 12500*time.Millisecond,
		&pb.TaskParams{Speed: 5, Timestamp: true}))
	checkClock(t, path, time.Second, "2024-05-01 12:00:07", "2024-05-01 12:00:06", "2024-05-01 12:00:08")
}

// From 100× only keyframes are decoded; the output still has its length.
func TestTimelapseKeyframesOnly(t *testing.T) {
	if f := timelapseFilter(100, false, t0); !strings.HasPrefix(f, "fps=25/100,") {
		t.Errorf("filter %s", f)
	}
	env, out := testEnv(t)
	res, path := run(t, env, out, spec(task.TypeTimelapse, 0, 24*time.Second, &pb.TaskParams{Speed: 120}))
	if !near(float64(res.DurationMs), 200, 50) {
		t.Errorf("DurationMs %d, want 200", res.DurationMs)
	}
	p := ffprobe(t, path)
	oneVideo(t, p, "h264")
	if d := p.duration(t); !near(d, 0.2, 0.1) {
		t.Errorf("duration %.3f s, want 0.2", d)
	}
}

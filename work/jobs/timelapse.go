package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

const (
	// timelapseFPS is a timelapse's frame rate.
	timelapseFPS = 25
	// keyframesOnlyFrom is the speed from which a timelapse decodes only
	// the keyframes: an output frame then stands for 4 s or more of
	// recording, longer than a camera's usual GOP, so the keyframes are
	// frames enough and decoding is cut some 25 times.
	keyframesOnlyFrom = 100
)

// timelapse plays the recorded range Speed times faster, at 25 fps,
// without audio.
func (w *work) timelapse(ctx context.Context) (*pb.TaskResult, error) {
	from, to, err := w.span()
	if err != nil {
		return nil, err
	}
	speed := w.spec.GetParams().GetSpeed()
	if speed == 0 {
		speed = task.DefaultSpeed
	}
	if speed < 2 || speed > task.MaxSpeed {
		return nil, Permanent(fmt.Errorf("speed %d out of 2..%d", speed, task.MaxSpeed))
	}
	src, err := w.recorded(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var args []string
	if speed >= keyframesOnlyFrom {
		args = append(args, "-skip_frame", "nokey")
	}
	args = append(args, src.inputArgs()...)
	args = append(args, "-map", "0:v:0", "-an", "-vf", timelapseFilter(speed, w.spec.GetParams().GetTimestamp(), src.clock))
	args = append(args, x264...)
	out := filepath.Join(w.dir, "timelapse.mp4")
	args = append(args, "-r", strconv.Itoa(timelapseFPS), "-movflags", "+faststart", "-f", "mp4", out)
	expect := src.dur / time.Duration(speed)
	if _, err := w.ffmpeg(ctx, expect, args...); err != nil {
		return nil, fmt.Errorf("timelapse: %w", err)
	}
	return w.putMP4(ctx, "timelapse.mp4", out)
}

// timelapseFilter keeps the frames the output shows first (fps at 25/N on
// the recorded timeline: every N/25 s), burns the clock into them while
// their pts is still recorded time, then speeds them up N times: 25 fps.
// Only the kept frames are drawn on and scaled in time.
func timelapseFilter(speed uint32, timestamp bool, clock time.Time) string {
	n := strconv.Itoa(int(speed))
	f := []string{"fps=" + strconv.Itoa(timelapseFPS) + "/" + n}
	if timestamp {
		f = append(f, clockFilter(clock))
	}
	// in 1/25 s ticks the kept frames are N ticks apart: divided by N
	// they stay whole and distinct (in the fps filter's own time base,
	// N/25 s, they would round onto each other)
	f = append(f, "settb=1/"+strconv.Itoa(timelapseFPS), "setpts=(PTS-STARTPTS)/"+n)
	return strings.Join(f, ",")
}

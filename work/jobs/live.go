package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// liveRun is the duration a live transcode's progress is measured
// against: it runs until canceled.
const liveRun = 24 * time.Hour

// liveTranscode reads the channel's live stream and publishes it as H.264
// (veryfast, zero latency, a keyframe every second, no B-frames: what
// browsers' MSE and WebRTC decode at once) to the owner's relay, audio
// copied, until the job is canceled (the rendition's last reader left) or
// the source ends.
func (w *work) liveTranscode(ctx context.Context) (*pb.TaskResult, error) {
	if w.job.LiveURL == "" || w.job.PublishURL == "" {
		return nil, errors.New("live transcode: no source or publish URL (no node answered)")
	}
	args := []string{"-rtsp_transport", "tcp", "-i", w.job.LiveURL,
		"-map", "0:v:0"}
	args = append(args, x264...)
	args = append(args, "-tune", "zerolatency", "-bf", "0", "-force_key_frames", "expr:gte(t,n_forced*1)",
		"-map", "0:a:0?", "-c:a", "copy",
		"-f", "rtsp", "-rtsp_transport", "tcp", w.job.PublishURL)
	if _, err := w.ffmpeg(ctx, liveRun, args...); err != nil {
		return nil, fmt.Errorf("live transcode: %w", err)
	}
	return nil, errors.New("live transcode: the source ended")
}

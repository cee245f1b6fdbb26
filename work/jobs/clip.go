package jobs

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/argus-vms/argus/events/pb"
)

// x264 is the encoding of every re-encoded output: veryfast is the
// speed/size trade of a worker doing many jobs; yuv420p is what every
// player decodes.
var x264 = []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"}

// clip exports the recorded range as one regular MP4 (moov first, for
// players and browsers to start before the end is downloaded). Without a
// timestamp the frames are copied: no decoding, as fast as the disk; the
// cut is then at the keyframe at or before from. With one they are
// re-encoded under the burnt-in clock. Audio other than AAC (G.711, Opus)
// is converted to AAC, which every MP4 player plays.
func (w *work) clip(ctx context.Context) (*pb.TaskResult, error) {
	from, to, err := w.span()
	if err != nil {
		return nil, err
	}
	src, err := w.recorded(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(w.dir, "clip.mp4")
	args := src.inputArgs()
	if w.spec.GetParams().GetTimestamp() {
		args = append(args, "-map", "0:v:0", "-vf", clockFilter(src.clock))
		args = append(args, x264...)
		if src.audio {
			args = append(args, "-map", "0:a:0", "-c:a", "aac")
		}
	} else {
		args = append(args, "-map", "0:v:0", "-c:v", "copy")
		switch {
		case src.audio && src.audioAAC:
			args = append(args, "-map", "0:a:0", "-c:a", "copy")
		case src.audio:
			args = append(args, "-map", "0:a:0", "-c:a", "aac")
		}
	}
	args = append(args, "-movflags", "+faststart", "-f", "mp4", out)
	if _, err := w.ffmpeg(ctx, src.dur, args...); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	return w.putMP4(ctx, "clip.mp4", out)
}

// putMP4 stores an MP4 output as the task's result.
func (w *work) putMP4(ctx context.Context, name, path string) (*pb.TaskResult, error) {
	d, err := mp4Duration(path)
	if err != nil {
		return nil, fmt.Errorf("reading the output's duration: %w", err)
	}
	key := w.key(name)
	n, err := w.put(ctx, key, path)
	if err != nil {
		return nil, err
	}
	return &pb.TaskResult{Key: key, Bytes: n, DurationMs: d.Milliseconds(), ContentType: "video/mp4"}, nil
}

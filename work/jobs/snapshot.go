package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

const (
	// liveSnapshotTimeout bounds a live snapshot: connecting to the
	// camera and waiting for its next keyframe. Someone waits for the
	// answer; a camera that says nothing for this long is better retried.
	liveSnapshotTimeout = 15 * time.Second
	// snapshotWindow is the recording read for a recorded snapshot: from
	// the instant, enough to hold its frame (the file starts at the
	// keyframe before it).
	snapshotWindow = 2 * time.Second
)

// snapshot grabs one JPEG frame: live from the camera (FromUnixMs 0) or
// the recorded frame at the instant FromUnixMs.
func (w *work) snapshot(ctx context.Context) (*pb.TaskResult, error) {
	out := filepath.Join(w.dir, "snapshot.jpg")
	var args []string
	runCtx := ctx
	if w.spec.FromUnixMs == 0 {
		if w.job.LiveURL == "" {
			// the worker could not learn the channel's source (yet)
			return nil, errors.New("live snapshot: no live source for the channel")
		}
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, liveSnapshotTimeout)
		defer cancel()
		if strings.HasPrefix(w.job.LiveURL, "rtsp") {
			// TCP: no UDP ports to open, and no frame lost on the way
			args = append(args, "-rtsp_transport", "tcp")
		}
		args = append(args, "-i", w.job.LiveURL)
	} else {
		at := time.UnixMilli(w.spec.FromUnixMs)
		src, err := w.recorded(ctx, at, at.Add(snapshotWindow))
		if err != nil {
			return nil, err
		}
		// -ss before -i decodes from the keyframe and drops the frames
		// before the instant: the first frame out is the instant's (or,
		// when the instant falls in a gap, the first recorded after it).
		args = append(args, "-ss", seconds(src.seek), "-i", src.path)
	}
	args = append(args, "-map", "0:v:0", "-frames:v", "1")
	if width := w.spec.GetParams().GetWidth(); width > 0 {
		args = append(args, "-vf", "scale="+strconv.Itoa(int(width))+":-2")
	}
	// -q:v 2: a near-lossless JPEG; -update 1: one image, no file pattern
	args = append(args, "-q:v", "2", "-f", "image2", "-update", "1", out)
	if _, err := w.ffmpeg(runCtx, 0, args...); err != nil {
		if ctx.Err() == nil && runCtx.Err() != nil {
			return nil, fmt.Errorf("live snapshot: no picture from the camera within %v", liveSnapshotTimeout)
		}
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		return nil, errors.New("snapshot: ffmpeg wrote no picture")
	}
	w.progress(1)
	key := w.key("snapshot.jpg")
	n, err := w.put(ctx, key, out)
	if err != nil {
		return nil, err
	}
	return &pb.TaskResult{Key: key, Bytes: n, ContentType: "image/jpeg"}, nil
}

package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// hlsInSteps encodes the ladder one rung at a time, lowest first, and
// publishes the lowest as it is written, each higher one once whole, with
// a master playlist of the rungs up: a VOD plays (at its lowest quality)
// while it and the higher rungs are still encoding. It decodes the input once per
// rung, the price of playing early; recorded ranges use hls (one run).
func (w *work) hlsInSteps(ctx context.Context, src *source, ladder []rung) (*pb.TaskResult, error) {
	out := filepath.Join(w.dir, "hls")
	for i := range ladder {
		ladder[i].width = scaledWidth(ladder[i].height, src.width, src.height)
	}
	report := w.progress
	defer func() { w.progress = report }()
	pub := newPublisher(w, out, nil)
	var res *pb.TaskResult
	for i, r := range ladder {
		w.progress = func(p float64) { report((float64(i) + p) / float64(len(ladder))) }
		dir := filepath.Join(out, r.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
		args := append(src.inputArgs(), "-map", "0:v:0", "-vf", "scale=-2:"+strconv.Itoa(r.height),
			"-maxrate", strconv.Itoa(r.maxrate), "-bufsize", strconv.Itoa(2*r.maxrate))
		if src.audio {
			args = append(args, "-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2")
		}
		args = append(args, x264...)
		args = append(args, "-crf", crf, "-force_key_frames", "expr:gte(t,n_forced*"+strconv.Itoa(hlsSegment)+")",
			"-f", "hls", "-hls_time", strconv.Itoa(hlsSegment), "-hls_playlist_type", "event", "-hls_flags", "independent_segments",
			"-hls_segment_filename", filepath.Join(dir, "seg%03d.ts"), filepath.Join(dir, masterName))
		// The lowest rung plays as it encodes; a higher one joins the
		// master once it is whole (a player switching up must not catch
		// up with the encoder).
		if i == 0 {
			pub.step(ladder[:1])
		}
		d, err := pub.during(ctx, func() (time.Duration, error) { return w.ffmpeg(ctx, src.dur, args...) })
		if err != nil {
			return nil, fmt.Errorf("transcode %s: %w", r.name, err)
		}
		pub.step(ladder[:i+1])
		if res, err = pub.finish(ctx); err != nil {
			return nil, err
		}
		res.DurationMs = d.Milliseconds()
		if i < len(ladder)-1 && w.job.Partial != nil {
			w.job.Partial(res)
		}
	}
	return res, nil
}

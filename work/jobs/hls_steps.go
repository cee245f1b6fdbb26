package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// hlsInSteps encodes the ladder one rung at a time, lowest first, and
// publishes each rung with a master playlist of the rungs done so far: a
// VOD plays (at its lowest quality) while the higher rungs are still
// encoding. It decodes the input once per rung, the price of playing
// early; recorded ranges use hls (one run).
func (w *work) hlsInSteps(ctx context.Context, src *source, ladder []rung) (*pb.TaskResult, error) {
	out := filepath.Join(w.dir, "hls")
	for i := range ladder {
		ladder[i].width = scaledWidth(ladder[i].height, src.width, src.height)
	}
	report := w.progress
	defer func() { w.progress = report }()
	res := &pb.TaskResult{Key: w.key("hls/" + masterName), ContentType: "application/vnd.apple.mpegurl"}
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
			"-f", "hls", "-hls_time", strconv.Itoa(hlsSegment), "-hls_playlist_type", "vod", "-hls_flags", "independent_segments",
			"-hls_segment_filename", filepath.Join(dir, "seg%03d.ts"), filepath.Join(dir, masterName))
		d, err := w.ffmpeg(ctx, src.dur, args...)
		if err != nil {
			return nil, fmt.Errorf("transcode %s: %w", r.name, err)
		}
		files, n, err := w.putTree(ctx, dir, w.key("hls/"+r.name+"/"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			res.Files = append(res.Files, r.name+"/"+f)
		}
		if err := writeMaster(out, ladder[:i+1]); err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
		m, err := w.put(ctx, res.Key, filepath.Join(out, masterName))
		if err != nil {
			return nil, err
		}
		res.Bytes += n
		res.DurationMs = d.Milliseconds()
		if i < len(ladder)-1 && w.job.Partial != nil {
			partial := proto.Clone(res).(*pb.TaskResult)
			partial.Bytes += m
			partial.Files = append(partial.Files, masterName)
			w.job.Partial(partial)
		}
		if i == len(ladder)-1 {
			res.Bytes += m
			res.Files = append(res.Files, masterName)
		}
	}
	return res, nil
}

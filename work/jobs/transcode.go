package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

const (
	// hlsSegment is the HLS segment length, in seconds: keyframes are
	// forced on it so every rendition cuts at the same times.
	hlsSegment = 4
	// crf is the ladder's quality; maxrate caps each rung's bitrate.
	crf = "23"
)

// rung is one rendition of the HLS ladder.
type rung struct {
	name          string
	width, height int
	maxrate       int // bits/s, the encoder's cap (peak)
}

// maxrates are the rungs' bitrate caps by height: the usual ladder.
var maxrates = map[int]int{360: 800_000, 480: 1_400_000, 720: 2_800_000, 1080: 5_000_000}

// transcode encodes the recorded range (or, later, an upload) as an HLS
// VOD ladder.
func (w *work) transcode(ctx context.Context) (*pb.TaskResult, error) {
	if w.spec.Source != "" {
		ladder, err := w.ladder()
		if err != nil {
			return nil, err
		}
		src, err := w.uploaded(ctx)
		if err != nil {
			return nil, err
		}
		return w.hlsInSteps(ctx, src, ladder)
	}
	from, to, err := w.span()
	if err != nil {
		return nil, err
	}
	ladder, err := w.ladder()
	if err != nil {
		return nil, err
	}
	src, err := w.recorded(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return w.hls(ctx, src, ladder)
}

// ladder is the requested renditions, lowest first.
func (w *work) ladder() ([]rung, error) {
	names := w.spec.GetParams().GetRenditions()
	if len(names) == 0 {
		names = task.DefaultRenditions
	}
	var ladder []rung
	for _, name := range names {
		h, ok := task.Renditions[name]
		if !ok {
			return nil, Permanent(fmt.Errorf("unknown rendition %q", name))
		}
		if slices.ContainsFunc(ladder, func(r rung) bool { return r.name == name }) {
			continue
		}
		rate := maxrates[h]
		if rate == 0 {
			rate = h * 3_000 // ~ the ladder's bits per line
		}
		ladder = append(ladder, rung{name: name, height: h, maxrate: rate})
	}
	slices.SortFunc(ladder, func(a, b rung) int { return a.height - b.height })
	return ladder, nil
}

// hls runs ONE ffmpeg for the whole ladder (the input is decoded once and
// split), writing each rung as <name>/index.m3u8 and its segments, which
// are published as they are written (see publisher): the VOD plays, from
// its start, a few seconds after the encode began.
func (w *work) hls(ctx context.Context, src *source, ladder []rung) (*pb.TaskResult, error) {
	out := filepath.Join(w.dir, "hls")
	for i := range ladder {
		ladder[i].width = scaledWidth(ladder[i].height, src.width, src.height)
	}
	args := append(src.inputArgs(), "-filter_complex", ladderFilter(ladder))
	var streams []string
	for i, r := range ladder {
		v := ":v:" + strconv.Itoa(i)
		args = append(args, "-map", "[v"+strconv.Itoa(i)+"]",
			"-maxrate"+v, strconv.Itoa(r.maxrate), "-bufsize"+v, strconv.Itoa(2*r.maxrate))
		stream := "v:" + strconv.Itoa(i)
		if src.audio {
			args = append(args, "-map", "0:a:0")
			stream += ",a:" + strconv.Itoa(i)
		}
		streams = append(streams, stream+",name:"+r.name)
	}
	args = append(args, x264...)
	args = append(args, "-crf", crf,
		// a keyframe at every segment boundary, the same in every rung
		"-force_key_frames", "expr:gte(t,n_forced*"+strconv.Itoa(hlsSegment)+")")
	if src.audio {
		args = append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2")
	}
	args = append(args, "-f", "hls",
		"-hls_time", strconv.Itoa(hlsSegment),
		"-hls_playlist_type", "event", // growing, so that it is published as it goes
		"-hls_flags", "independent_segments",
		"-hls_segment_filename", filepath.Join(out, "%v", "seg%03d.ts"),
		"-var_stream_map", strings.Join(streams, " "),
		filepath.Join(out, "%v", "index.m3u8"))
	pub := newPublisher(w, out, ladder)
	pub.clock = src.clock
	d, err := pub.during(ctx, func() (time.Duration, error) { return w.ffmpeg(ctx, src.dur, args...) })
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	res, err := pub.finish(ctx)
	if err != nil {
		return nil, err
	}
	res.DurationMs = d.Milliseconds()
	return res, nil
}

// ladderFilter splits the video into one scaled output per rung:
// [v0], [v1], …
func ladderFilter(ladder []rung) string {
	var b strings.Builder
	b.WriteString("[0:v:0]split=" + strconv.Itoa(len(ladder)))
	for i := range ladder {
		b.WriteString("[s" + strconv.Itoa(i) + "]")
	}
	for i, r := range ladder {
		fmt.Fprintf(&b, ";[s%d]scale=-2:%d[v%d]", i, r.height, i)
	}
	return b.String()
}

// scaledWidth is the width ffmpeg's scale=-2:h gives a w×h picture: the
// height scaled by the aspect ratio, rounded to the nearest even number
// (av_rescale rounds half away from zero). An unknown size is taken as
// 16:9.
func scaledWidth(height, w, h int) int {
	if w <= 0 || h <= 0 {
		w, h = 16, 9
	}
	num, den := int64(height)*int64(w), int64(h)*2
	return int((num+den/2)/den) * 2
}

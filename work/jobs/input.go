package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/argus-vms/argus/actors/media/playback"
)

// source is the local media file a job reads and where its range lies in
// it. A recorded range is one (recorded); an upload, once supported, is
// another: a local file with seek 0 and its whole duration.
type source struct {
	path  string
	seek  time.Duration // where the range starts in the file
	dur   time.Duration // how long the range lasts in the file: the output's length
	clock time.Time     // the wall-clock time at seek (a burnt-in timestamp's start)
	audio bool          // the file has an audio track
	// audioAAC: the audio is AAC, which MP4 outputs take as is (G.711 and
	// Opus are converted for players' sake)
	audioAAC bool
	// the picture's size, 0 when unknown (an HLS master's RESOLUTION)
	width, height int
}

// inputArgs are ffmpeg's input options reading the range of s: -ss before
// -i seeks the input (decoding from the keyframe before, frames before
// the point dropped; timestamps then start at 0 at the point) and -t
// before -i bounds what is read, so a sped-up output is bounded too.
func (s *source) inputArgs() []string {
	return []string{"-ss", seconds(s.seek), "-t", seconds(s.dur), "-i", s.path}
}

// errNothingRecorded says what a range without recordings is.
func errNothingRecorded(device string, channel uint32, from, to time.Time) error {
	return Permanent(fmt.Errorf("nothing is recorded in the range %s to %s of %s channel %d",
		from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano), device, channel))
}

// recorded joins the recordings of the task's channel over [from, to)
// into one MP4 scratch file (playback.MP4: the fragments from the keyframe
// at or before from to the one holding to).
func (w *work) recorded(ctx context.Context, from, to time.Time) (*source, error) {
	if w.env.Segments == nil || w.env.Open == nil {
		return nil, errors.New("no recording storage to read the range from")
	}
	dev, ch := w.spec.Device, w.spec.Channel
	segs, err := w.env.Segments(ctx, dev, int(ch), from, to)
	if err != nil {
		return nil, fmt.Errorf("listing the recordings: %w", err)
	}
	if len(segs) == 0 {
		return nil, errNothingRecorded(dev, ch, from, to)
	}
	f, err := playback.MP4(ctx, w.env.Open, segs, from, to)
	switch {
	case errors.Is(err, playback.ErrNoRecording):
		return nil, errNothingRecorded(dev, ch, from, to)
	case errors.Is(err, playback.ErrBadRange), errors.Is(err, playback.ErrUnsupported):
		return nil, Permanent(fmt.Errorf("joining the recordings: %w", err))
	case err != nil:
		return nil, fmt.Errorf("joining the recordings: %w", err)
	}
	defer f.Close()

	path := filepath.Join(w.dir, "input.mp4")
	if err := writeFile(ctx, path, f); err != nil {
		return nil, fmt.Errorf("copying the recordings: %w", err)
	}
	// The file starts at the keyframe at or before from (or at the first
	// recorded frame when from falls in a gap): there is no gap before
	// from in it, so from is that far in. After a gap inside the range the
	// file's time is recorded time (gaps closed up): it ends before
	// to-from, where ffmpeg stops reading.
	start := later(from, f.Start())
	s := &source{
		path:  path,
		seek:  start.Sub(f.Start()),
		clock: start,
	}
	if a := f.Audio(); a != nil {
		_, aac := a.Codec.(*codecs.MPEG4Audio)
		s.audio, s.audioAAC = true, aac
	}
	s.dur = min(to.Sub(start), f.Duration()-s.seek)
	if s.dur <= 0 {
		return nil, errNothingRecorded(dev, ch, from, to)
	}
	// A picture size not learnt only costs the HLS master its exact
	// RESOLUTION: no reason to fail the job.
	if v := f.Video(); v != nil {
		s.width, s.height, _ = v.PictureSize()
	}
	return s, nil
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// writeFile copies r into a new file at path, stopping when ctx ends (a
// day of recordings is gigabytes).
func writeFile(ctx context.Context, path string, r io.Reader) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, ctxReader{ctx, r}); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// ctxReader is a reader that fails once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// maxStderr is how much of ffmpeg's error output an error quotes.
const maxStderr = 1024

// ffmpeg runs one ffmpeg process: in on its stdin (of the format inArgs
// name), the first picture out as a JPEG, scaled to width when width > 0.
func (g *Grabber) ffmpeg(ctx context.Context, in []byte, width int, inArgs ...string) ([]byte, error) {
	select {
	case g.procs <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("snapshot: waiting for ffmpeg: %w", ctx.Err())
	}
	defer func() { <-g.procs }()
	g.ffmpegRuns.Add(1)

	// one thread: a single picture gains little from more, and many
	// snapshots at once must not take every core
	args := []string{"-hide_banner", "-loglevel", "error", "-threads", "1"}
	args = append(args, inArgs...)
	args = append(args, "-i", "pipe:0", "-frames:v", "1")
	if width > 0 {
		args = append(args, "-vf", "scale="+strconv.Itoa(width)+":-2")
	}
	args = append(args, "-f", "image2", "-c:v", "mjpeg", "-q:v", "3", "pipe:1")

	cmd := exec.CommandContext(ctx, g.o.FFmpeg, args...)
	out := &cappedBuffer{max: int(g.o.MaxBytes), err: ErrTooLarge}
	stderr := &cappedBuffer{max: maxStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), out, stderr
	cmd.WaitDelay = time.Second // a killed ffmpeg's pipes must not hold us
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("snapshot: ffmpeg: %w", ctx.Err())
	case out.over:
		return nil, fmt.Errorf("snapshot: ffmpeg's JPEG: %w", ErrTooLarge)
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("snapshot: ffmpeg binary %q: %w", g.o.FFmpeg, err)
	case err != nil:
		return nil, fmt.Errorf("snapshot: ffmpeg: %v: %s", err, stderr.oneLine())
	case !isJPEG(out.buf.Bytes()):
		return nil, fmt.Errorf("snapshot: ffmpeg made no picture (%d bytes out): %w: %s", out.buf.Len(), ErrNotJPEG, stderr.oneLine())
	}
	return out.buf.Bytes(), nil
}

// isJPEG reports whether b starts as a JPEG does: SOI, then a marker.
func isJPEG(b []byte) bool {
	return len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff
}

// cappedBuffer keeps at most max bytes. Past them it fails the write when
// err is set (stdout: ffmpeg stops), or drops the rest quietly (stderr).
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	err  error
	over bool
}

// oneLine is the text kept, its lines joined, for an error message.
func (c *cappedBuffer) oneLine() string {
	var lines []string
	for l := range strings.Lines(c.buf.String()) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if len(p) <= room {
		return c.buf.Write(p)
	}
	c.over = true
	if c.err != nil {
		return 0, c.err
	}
	c.buf.Write(p[:max(room, 0)])
	return len(p), nil
}

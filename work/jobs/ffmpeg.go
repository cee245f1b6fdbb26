package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// killWait bounds how long Wait waits for ffmpeg's pipes after the
	// kill: a killed process closes them at once, this only guards against
	// a stuck descendant holding them.
	killWait = 2 * time.Second
	// progressEvery spaces the progress calls: ffmpeg reports twice a
	// second, the task's progress events need far less.
	progressEvery = 250 * time.Millisecond
	// stderrTail is how much of ffmpeg's last words an error keeps.
	stderrTail = 2048
)

// ffmpeg runs ffmpeg with args (after the common flags) and returns the
// output's duration as ffmpeg last reported it (out_time). expect is the
// output duration progress reaches 1 at (0: no progress reports). When ctx
// ends the process is killed (SIGKILL: ffmpeg finishing its output
// gracefully is of no use to a canceled job) and ctx's error returned.
func (w *work) ffmpeg(ctx context.Context, expect time.Duration, args ...string) (time.Duration, error) {
	// -nostdin: ffmpeg must never wait on a terminal; -progress pipe:1 is
	// the machine-readable report parsed below; -loglevel error keeps
	// stderr to what explains a failure.
	full := append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
		"-progress", "pipe:1", "-y"}, args...)
	cmd := exec.CommandContext(ctx, w.env.FFmpeg, full...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = killWait
	stderr := &tail{max: stderrTail}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("ffmpeg: %w", err)
	}
	p := progressReader{expect: expect, report: w.progress}
	p.read(stdout) // until ffmpeg exits (or is killed) and closes its stdout
	err = cmd.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no message"
		}
		return 0, fmt.Errorf("ffmpeg: %w: %s", err, msg)
	}
	return p.outTime, nil
}

// progressReader parses ffmpeg's -progress output: blocks of key=value
// lines, each ended by progress=continue (or progress=end, the last).
type progressReader struct {
	expect  time.Duration
	report  func(float64)
	outTime time.Duration // the latest out_time

	last     float64
	lastTime time.Time
}

func (p *progressReader) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch key {
		case "out_time_us":
			// "N/A" before the first frame is out; negative right after a
			// seek: neither moves the progress
			if us, err := strconv.ParseInt(val, 10, 64); err == nil && us >= 0 {
				p.outTime = time.Duration(us) * time.Microsecond
			}
		case "progress":
			p.block(val == "end")
		}
	}
	// Drain what a scanner error (an absurdly long line) left, so that
	// ffmpeg never blocks writing to a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// block reports the progress of a finished block, at most every
// progressEvery and never going back.
func (p *progressReader) block(end bool) {
	if p.expect <= 0 || p.report == nil {
		return
	}
	f := min(float64(p.outTime)/float64(p.expect), 1)
	if end {
		// out_time is the last frame's start (less the encoder's delay):
		// the end is the end
		f = 1
	}
	if f <= p.last || (!end && time.Since(p.lastTime) < progressEvery) {
		return
	}
	p.last, p.lastTime = f, time.Now()
	p.report(f)
}

// tail keeps the last max bytes written to it (ffmpeg's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// seconds formats a duration for ffmpeg's time options (-ss, -t).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

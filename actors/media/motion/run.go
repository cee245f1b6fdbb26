package motion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/events/backoff"
)

// AUSource is what relay.Stream offers: H.264 or H.265 access units
// (random-access ones with their parameter sets in front), fn called on
// the source's goroutine, serialized, never to block.
type AUSource interface {
	SubscribeVideo(fn func(relay.Frame)) (unsubscribe func())
}

// Options of Run.
type Options struct {
	FFmpeg string // binary; default "ffmpeg"
	FPS    int    // frames analysed per second, 1..25; default 5
	// Width, Height: the analysed frame, 8..640 × 8..480; default 64×36.
	// Any aspect will do: it is a grid over the picture.
	Width, Height int
	Log           *slog.Logger // nil: discarded
}

// Timings and limits of Run.
const (
	// queueLen bounds the access units waiting for ffmpeg (~2.5 s at 25
	// fps): a backlog older than that is worth nothing to a live detector.
	queueLen = 64
	// restarts of a failing ffmpeg
	minBackoff  = 500 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = time.Minute // of frames: the backoff starts over
	// stallTimeout: ffmpeg fed access units but gave no frame this long is
	// stuck; it is killed and restarted.
	stallTimeout = 10 * time.Second
	stallAUs     = 10
	// tickEvery: checks for a cooldown that passed without frames (End's
	// Time is exact; only its emission waits for the tick) and stalls.
	tickEvery = time.Second
	maxStderr = 2 << 10
	// batchesPerFrame: access units are written to ffmpeg this many times
	// per analysed frame.
	batchesPerFrame = 2
)

func (o Options) withDefaults() Options {
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.FPS == 0 {
		o.FPS = 5
	}
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = 64, 36
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.FPS < 1 || o.FPS > 25:
		return fmt.Errorf("motion: %d frames per second, want 1..25", o.FPS)
	case o.Width < 8 || o.Width > 640 || o.Height < 8 || o.Height > 480:
		return fmt.Errorf("motion: frame %dx%d, want 8..640 × 8..480", o.Width, o.Height)
	}
	return nil
}

// Run detects motion on src until ctx ends, calling fn for each event (one
// call at a time, in order, from Run's goroutines; while fn runs no frame
// is analysed, so it should be quick). One ffmpeg process decodes the
// access units to grey frames; when it fails it is restarted with
// backoff. When ctx ends, Run unsubscribes, kills ffmpeg, emits the End of
// a motion still on and returns nil. Only an invalid cfg or o is an error.
func Run(ctx context.Context, src AUSource, cfg Config, o Options, fn func(Event)) error {
	if _, err := cfg.Validate(); err != nil {
		return err
	}
	if src == nil {
		return errors.New("motion: nil source")
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	r := &runner{
		o:     o,
		log:   o.Log.With("component", "motion"),
		det:   NewDetector(cfg, o.Width, o.Height),
		q:     &auQueue{in: make(chan relay.Frame, queueLen)},
		fn:    fn,
		bo:    backoff.Backoff{Min: minBackoff, Max: maxBackoff},
		frame: make([]byte, o.Width*o.Height),
	}
	unsub := src.SubscribeVideo(r.q.onAU)
	for ctx.Err() == nil {
		stable, err := r.process(ctx)
		if ctx.Err() != nil {
			break
		}
		if stable {
			r.bo.Reset()
		}
		delay := r.bo.Next()
		r.log.Warn("motion: ffmpeg ended; restarting", "err", err, "in", delay,
			"dropped_access_units", r.q.dropped.Load())
		r.wait(ctx, delay)
	}
	unsub()
	r.mu.Lock()
	r.emit(r.det.Stop(time.Now()))
	r.mu.Unlock()
	return nil
}

type runner struct {
	o     Options
	log   *slog.Logger
	q     *auQueue
	bo    backoff.Backoff
	frame []byte

	// mu serializes the detector and fn: frames are fed on the reading
	// goroutine (one wakeup a frame, not a hand-over), ticks on Run's.
	mu  sync.Mutex
	det *Detector
	fn  func(Event)
}

// emit calls fn for an event; r.mu held.
func (r *runner) emit(ev Event, ok bool) {
	if ok {
		r.fn(ev)
	}
}

// tick ends a motion whose cooldown passed without frames.
func (r *runner) tick(now time.Time) {
	r.mu.Lock()
	r.emit(r.det.Tick(now))
	r.mu.Unlock()
}

// wait sleeps d (or until ctx ends), ending a motion whose cooldown
// passes meanwhile.
func (r *runner) wait(ctx context.Context, d time.Duration) {
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case now := <-tick.C:
			r.tick(now)
		}
	}
}

// ffmpegArgs: raw H.264 or H.265 on stdin, width×height grey frames on
// stdout.
//
//   - -threads 1: frame threads would add a frame of delay each and take
//     cores from the other channels; decoding is nearly all of the cost
//     (640×360 25 fps 1 Mbps: ~2.3 % of a core steady on the bench VM).
//   - -skip_loop_filter all: the deblocking filter is ~15 % of decoding
//     (measured, veryfast x264 at 1 Mbps); a 10× downscale hides blocks.
//     (-flags2 fast and -skip_idct all measured no gain; -skip_frame
//     noref gains nothing on cameras' all-reference P frames; -flags gray
//     is slower.)
//   - -use_wallclock_as_timestamps: raw H264 has no timestamps, the
//     demuxer would assume 25 fps; arrival time makes fps= pick frames per
//     real second whatever the camera's rate.
//   - -probesize 32 -analyzeduration 0: start on the first IDR instead
//     of probing seconds of input (not -fflags nobuffer: it drops what
//     the probe read, the first IDR, and a GOP is lost).
//   - scale flags=area: averages the ~100 source pixels of a grid pixel,
//     which removes sensor noise (bilinear would sample and alias).
//   - -flush_packets 1: each frame is written at once, not when a 32 KiB
//     buffer fills (seconds of frames at 64×36).
func ffmpegArgs(o Options, codec relay.Codec) []string {
	demuxer := "h264"
	if codec == relay.CodecH265 {
		demuxer = "hevc"
	}
	return []string{
		"-hide_banner", "-loglevel", "error", "-nostats",
		"-threads", "1", "-skip_loop_filter", "all",
		"-probesize", "32", "-analyzeduration", "0",
		"-use_wallclock_as_timestamps", "1",
		"-f", demuxer, "-i", "pipe:0",
		"-an", "-sn", "-dn", "-filter_threads", "1",
		"-vf", "fps=" + strconv.Itoa(o.FPS) + ",scale=" + strconv.Itoa(o.Width) + ":" + strconv.Itoa(o.Height) + ":flags=area,format=gray",
		"-f", "rawvideo", "-flush_packets", "1", "pipe:1",
	}
}

// process runs one ffmpeg until it ends or ctx does, feeding the detector
// with its frames; stable: it gave frames for stableAfter. No Pdeathsig:
// if Argus dies, ffmpeg's stdin ends and so does ffmpeg.
func (r *runner) process(ctx context.Context) (stable bool, err error) {
	pctx, kill := context.WithCancelCause(ctx)
	defer kill(nil)
	// ffmpeg decodes the codec of the latest random access point; a
	// frame of another codec ends this run (the writer stops) and the
	// next one starts with the new codec
	codec := r.q.latestCodec()
	cmd := exec.CommandContext(pctx, r.o.FFmpeg, ffmpegArgs(r.o, codec)...)
	cmd.WaitDelay = time.Second // a killed ffmpeg's pipes must not hold us
	stderr := &tailBuffer{max: maxStderr}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return false, fmt.Errorf("motion: ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, fmt.Errorf("motion: ffmpeg stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("motion: starting ffmpeg %q: %w", r.o.FFmpeg, err)
	}
	started := time.Now()

	var written atomic.Int64
	stopWriter := make(chan struct{})
	var wg sync.WaitGroup
	batch := time.Second / time.Duration(r.o.FPS*batchesPerFrame)
	wg.Go(func() {
		r.q.write(stdin, codec, stopWriter, batch, &written)
		_ = stdin.Close() // a codec change: ffmpeg ends on EOF
	})

	// the reader: frames and the detector
	var lastFrame, writtenAtFrame atomic.Int64
	var steady atomic.Bool
	lastFrame.Store(started.UnixNano())
	readDone := make(chan error, 1)
	go func() {
		var first time.Time
		for {
			if _, err := io.ReadFull(stdout, r.frame); err != nil {
				readDone <- err
				return
			}
			now := time.Now()
			r.mu.Lock()
			if ctx.Err() == nil { // else Run emits the End itself
				r.emit(r.det.Feed(r.frame, now))
			}
			r.mu.Unlock()
			if first.IsZero() {
				first = now
				r.log.Debug("motion: first frame", "after", now.Sub(started))
			}
			lastFrame.Store(now.UnixNano())
			writtenAtFrame.Store(written.Load())
			if now.Sub(first) >= stableAfter {
				steady.Store(true)
			}
		}
	}()

	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var readErr error
	read := false
loop:
	for {
		select {
		case readErr = <-readDone:
			read = true
			break loop
		case <-pctx.Done():
			// killed: Wait reaps it and, after WaitDelay at most, closes
			// stdout even if a child of ffmpeg's still holds it
			break loop
		case now := <-tick.C:
			r.tick(now)
			if now.Sub(time.Unix(0, lastFrame.Load())) > stallTimeout && written.Load()-writtenAtFrame.Load() >= stallAUs {
				kill(fmt.Errorf("motion: ffmpeg gave no frame for %v while fed", stallTimeout))
			}
		}
	}
	err = cmd.Wait() // closes stdin and stdout: the writer and the reader return
	close(stopWriter)
	wg.Wait()
	if !read {
		readErr = <-readDone
	}
	stable = steady.Load()
	// the next ffmpeg starts over: its first frame is compared with nothing
	r.mu.Lock()
	r.det.Reset()
	r.mu.Unlock()
	if cause := context.Cause(pctx); cause != nil && ctx.Err() == nil {
		return stable, cause
	}
	if err == nil && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, io.ErrUnexpectedEOF) {
		err = readErr
	}
	if err == nil {
		err = errors.New("exited")
	}
	return stable, fmt.Errorf("motion: ffmpeg: %w: %s", err, stderr.oneLine())
}

// tailBuffer keeps the last max bytes written (ffmpeg's latest errors).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// oneLine is the text kept, its lines joined, for an error message.
func (t *tailBuffer) oneLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for l := range strings.Lines(string(t.buf)) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

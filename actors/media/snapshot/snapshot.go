// Package snapshot makes JPEG pictures of camera channels: from the
// camera's own snapshot URL, or from an H.264 keyframe of its stream
// decoded with ffmpeg. Requests for the same channel and width share one
// grab and, for a short while, its result.
package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the width a picture can be scaled to (0 keeps the source's).
const (
	MinWidth = 16
	MaxWidth = 3840
)

// Options configures a Grabber. Zero values take the defaults noted.
type Options struct {
	// FFmpeg is the ffmpeg binary, default "ffmpeg" from PATH.
	FFmpeg string
	// Timeout bounds one grab (fetch, waiting for and running ffmpeg),
	// default 5 s.
	Timeout time.Duration
	// CacheFor is how long a grab's JPEG answers later requests for the
	// same key and width, default 1 s; negative: not at all (concurrent
	// requests still share one grab). FromURL and FromKeyframe share it:
	// for a key, the picture of either answers both.
	CacheFor time.Duration
	// MaxBytes bounds a camera's snapshot answer and ffmpeg's output,
	// default 8 MiB.
	MaxBytes int64
	// HTTP fetches snapshot URLs, default a client of its own (no cookies;
	// Timeout bounds each grab).
	HTTP *http.Client
}

func (o *Options) defaults() {
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.CacheFor == 0 {
		o.CacheFor = time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 20
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
}

// Grabber makes snapshots. It is safe for concurrent use.
type Grabber struct {
	o Options
	// procs bounds the ffmpeg processes running at once, so that a burst
	// of requests (each width is a grab of its own) cannot swamp the node.
	procs chan struct{}

	mu      sync.Mutex
	flights map[flightKey]*flight // grabs under way, and done ones for CacheFor
	swept   time.Time             // when done flights were last dropped

	now        func() time.Time
	ffmpegRuns atomic.Int64            // for tests
	hookGrab   func(key string, w int) // for tests: called as each grab starts
}

// New returns a Grabber with o's settings.
func New(o Options) *Grabber {
	o.defaults()
	return &Grabber{
		o:       o,
		procs:   make(chan struct{}, max(2, runtime.NumCPU())),
		flights: map[flightKey]*flight{},
		now:     time.Now,
	}
}

// FromURL fetches a camera's snapshot URI (HTTP GET) with the device's
// credentials: without them, the request goes unauthenticated and a 401 is
// final; with them, a 401 is answered with Digest (MD5 or SHA-256) or
// Basic, as the camera's challenge says (never Basic unasked, so a
// password never crosses the network in clear text unless the camera
// wants it). The answer must be a JPEG (it starts with FF D8 FF, whatever
// its Content-Type says) of at most MaxBytes. width > 0 scales it with
// ffmpeg (aspect ratio kept, even height). Errors wrap *StatusError for
// HTTP answers other than 200 (401: ErrUnauthorized), ErrNotJPEG,
// ErrTooLarge, ErrBadWidth; they never contain the password. The JPEG
// returned is shared with other callers: do not modify it.
func (g *Grabber) FromURL(ctx context.Context, key, url, username, password string, width int) ([]byte, error) {
	if err := checkWidth(width); err != nil {
		return nil, err
	}
	return g.share(ctx, key, width, func(ctx context.Context) ([]byte, error) {
		jpg, err := g.fetch(ctx, url, username, password)
		if err != nil || width == 0 {
			return jpg, err
		}
		return g.ffmpeg(ctx, jpg, width, "-f", "image2pipe", "-c:v", "mjpeg")
	})
}

// FromKeyframe decodes an Annex-B H.264 or H.265 keyframe (its parameter
// sets in front, as relay.Stream.Keyframe gives it) to a JPEG with ffmpeg, scaled to width
// when width > 0 (aspect ratio kept, even height). The JPEG returned is
// shared with other callers: do not modify it.
func (g *Grabber) FromKeyframe(ctx context.Context, key string, annexB []byte, width int) ([]byte, error) {
	if err := checkWidth(width); err != nil {
		return nil, err
	}
	if len(annexB) == 0 {
		return nil, fmt.Errorf("snapshot: %s: empty keyframe", key)
	}
	return g.share(ctx, key, width, func(ctx context.Context) ([]byte, error) {
		return g.ffmpeg(ctx, annexB, width, "-f", rawFormat(annexB))
	})
}

// rawFormat is ffmpeg's demuxer for a keyframe: "hevc" when its first NAL
// unit is an H.265 VPS, SPS, PPS, delimiter or SEI, else "h264". A keyframe
// starts with its parameter sets (or a delimiter), and no H.264 unit that
// can come first has those header bits (H.264 SPS, PPS and delimiters have
// the low bit set; H.265 base-layer units have it clear).
func rawFormat(annexB []byte) string {
	i := bytes.Index(annexB, []byte{0, 0, 1})
	if i < 0 || i+4 >= len(annexB) {
		return "h264"
	}
	b := annexB[i+3]
	if b&0x81 == 0 {
		switch (b >> 1) & 0x3f {
		case 32, 33, 34, 35, 39: // VPS, SPS, PPS, AUD, prefix SEI
			return "hevc"
		}
	}
	return "h264"
}

func checkWidth(width int) error {
	if width != 0 && (width < MinWidth || width > MaxWidth) {
		return fmt.Errorf("%w, not %d", ErrBadWidth, width) // fit for a 400 answer as it is
	}
	return nil
}

package motion

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// movingBox is a lavfi graph: SMPTE bars with temporal noise (a camera's
// grain) and a white 64×64 box at x(t) (an ffmpeg expression of t, in
// pixels of the 640×360 picture).
func movingBox(x string) string {
	return "smptebars=s=640x360:r=25,noise=alls=4:allf=t[bg];color=white:s=64x64:r=25[box];" +
		"[bg][box]overlay=x='" + x + "':y=140:shortest=1"
}

// encodeClip encodes seconds of the lavfi graph as a camera would: x264,
// no B-frames, an IDR every second, raw Annex-B.
func encodeClip(t testing.TB, graph string, seconds int, x264 ...string) []byte {
	t.Helper()
	if len(x264) == 0 {
		x264 = []string{"-preset", "ultrafast"}
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", graph, "-t", strconv.Itoa(seconds), "-c:v", "libx264"}
	args = append(args, x264...)
	args = append(args, "-tune", "zerolatency", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264", "-")
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	return out
}

// splitAUs splits an Annex-B stream into access units as the relay
// delivers them: NALUs without start codes, SPS and PPS in front of IDRs
// (x264 writes them there), no access unit delimiters.
func splitAUs(t testing.TB, stream []byte) [][][]byte {
	t.Helper()
	var nalus [][]byte
	start := []byte{0, 0, 1}
	i := bytes.Index(stream, start)
	if i < 0 {
		t.Fatal("no Annex-B start code")
	}
	for pos := i + 3; pos < len(stream); {
		j := bytes.Index(stream[pos:], start)
		end, next := len(stream), len(stream)
		if j >= 0 {
			end, next = pos+j, pos+j+3
		}
		for end > pos && stream[end-1] == 0 {
			end--
		}
		if end > pos {
			nalus = append(nalus, stream[pos:end])
		}
		pos = next
	}
	var aus [][][]byte
	var cur [][]byte
	hasVCL := false
	for _, n := range nalus {
		typ := h264.NALUType(n[0] & 0x1f)
		vcl := typ == h264.NALUTypeNonIDR || typ == h264.NALUTypeIDR
		// a new picture: a non-VCL NALU after a VCL one, or a first slice
		// (first_mb_in_slice = 0, coded as a single 1 bit)
		if hasVCL && (!vcl || n[1]&0x80 != 0) {
			aus = append(aus, cur)
			cur, hasVCL = nil, false
		}
		if typ == h264.NALUTypeAccessUnitDelimiter {
			continue
		}
		cur = append(cur, n)
		hasVCL = hasVCL || vcl
	}
	if hasVCL {
		aus = append(aus, cur)
	}
	return aus
}

// clipSource is a real H264 source: it plays access units at 25 fps to its
// subscribers, from the first subscription on, like a relay stream with no
// cached GOP (fn runs on its goroutine, serialized, and must not block).
type clipSource struct {
	aus [][][]byte

	mu    sync.Mutex
	subs  map[int]func([][]byte, time.Duration, time.Time)
	next  int
	start chan struct{}
	once  sync.Once
	sent  []time.Time // wall clock when access unit i was delivered
	done  chan struct{}
}

func newClipSource(aus [][][]byte) *clipSource {
	return &clipSource{aus: aus, subs: map[int]func([][]byte, time.Duration, time.Time){},
		start: make(chan struct{}), done: make(chan struct{})}
}

func (s *clipSource) SubscribeAU(fn func([][]byte, time.Duration, time.Time)) func() {
	s.mu.Lock()
	id := s.next
	s.next++
	s.subs[id] = fn
	s.mu.Unlock()
	s.once.Do(func() { close(s.start) })
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// play delivers every access unit once at 25 fps (after the first
// subscription), then closes done.
func (s *clipSource) play(ctx context.Context) {
	defer close(s.done)
	select {
	case <-s.start:
	case <-ctx.Done():
		return
	}
	const frame = 40 * time.Millisecond
	t0 := time.Now()
	for i, au := range s.aus {
		if d := time.Until(t0.Add(time.Duration(i) * frame)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		s.mu.Lock()
		s.sent = append(s.sent, now)
		for _, fn := range s.subs {
			fn(au, time.Duration(i)*frame, now)
		}
		s.mu.Unlock()
	}
}

// sentAt is when access unit i was delivered (zero if not yet).
func (s *clipSource) sentAt(i int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.sent) {
		return s.sent[i]
	}
	return time.Time{}
}

// recorder collects events with the time fn was called.
type recorder struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *recorder) get() ([]Event, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...), append([]time.Time(nil), r.at...)
}

package pull

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/fakecam"
)

func testLog() *slog.Logger {
	if os.Getenv("PULL_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func startCam(t *testing.T, o fakecam.Options) *fakecam.Camera {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := fakecam.Start(ctx, o)
	if err != nil {
		t.Fatalf("fakecam: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// plainURL strips the credentials fakecam puts in its URLs.
func plainURL(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = nil
	return u.String()
}

type disc struct {
	err   error
	retry time.Duration
	at    time.Time
}

// recorder is a Handler that keeps what it saw.
type recorder struct {
	mu        sync.Mutex
	connected []*description.Session
	packets   int
	h264      int
	discs     []disc
	closed    bool // set by the test after Close; any later call is a bug
	late      int
	changed   chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) OnConnected(desc *description.Session) {
	r.mu.Lock()
	if r.closed {
		r.late++
	}
	r.connected = append(r.connected, desc)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) OnPacket(medi *description.Media, pkt *rtp.Packet) {
	r.mu.Lock()
	if r.closed {
		r.late++
	}
	r.packets++
	if _, ok := medi.Formats[0].(*format.H264); ok && pkt.PayloadType == medi.Formats[0].PayloadType() {
		r.h264++
	}
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) OnDisconnected(err error, retryIn time.Duration) {
	r.mu.Lock()
	if r.closed {
		r.late++
	}
	r.discs = append(r.discs, disc{err: err, retry: retryIn, at: time.Now()})
	r.mu.Unlock()
	r.poke()
}

// waitFor polls cond (under the recorder's lock) until it holds or d passes.
func (r *recorder) waitFor(t *testing.T, d time.Duration, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timeout waiting for %s: connected=%d packets=%d discs=%v", what, len(r.connected), r.packets, r.discs)
		}
	}
}

func (r *recorder) closeAndCheck(t *testing.T, p *Puller) {
	t.Helper()
	p.Close()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.late > 0 {
		t.Fatalf("%d handler calls after Close returned", r.late)
	}
}

func TestPullReceivesPackets(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
			r := newRecorder()
			p := Start(Config{URL: cam.URL("cam1"), Transport: transport, Log: testLog()}, r)
			// 25 fps at 2 Mbps is well over 100 packets in a second.
			r.waitFor(t, 10*time.Second, "100 packets", func(r *recorder) bool { return r.h264 >= 100 })
			r.mu.Lock()
			if len(r.connected) != 1 {
				t.Errorf("OnConnected called %d times, want 1", len(r.connected))
			}
			desc := r.connected[0]
			if len(desc.Medias) != 1 || desc.Medias[0].Type != description.MediaTypeVideo {
				t.Errorf("unexpected description: %+v", desc.Medias)
			}
			if len(r.discs) != 0 {
				t.Errorf("unexpected disconnects: %v", r.discs)
			}
			r.mu.Unlock()
			r.closeAndCheck(t, p)
		})
	}
}

func TestPullReconnectsAfterDrop(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, DropEvery: 700 * time.Millisecond})
	r := newRecorder()
	p := Start(Config{URL: cam.URL("cam1"), MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, Log: testLog()}, r)
	r.waitFor(t, 10*time.Second, "three connections", func(r *recorder) bool { return len(r.connected) >= 3 })
	packetsBefore := func() int { r.mu.Lock(); defer r.mu.Unlock(); return r.packets }()
	r.waitFor(t, 5*time.Second, "packets after reconnect", func(r *recorder) bool { return r.packets > packetsBefore+20 })
	r.mu.Lock()
	for i, d := range r.discs {
		// Each dropped connection had delivered packets: the backoff is
		// reset every time, so every retry is MinBackoff (+ <10% jitter).
		if d.retry < 50*time.Millisecond || d.retry > 55*time.Millisecond {
			t.Errorf("disconnect %d: retryIn %v, want 50ms..55ms (reset after a good connection)", i, d.retry)
		}
		if d.err == nil {
			t.Errorf("disconnect %d without error", i)
		}
	}
	r.mu.Unlock()
	r.closeAndCheck(t, p)
}

func TestPullAuth(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, User: "admin", Pass: "s3cret!"})
	u := plainURL(t, cam.URL("cam1"))

	t.Run("good credentials", func(t *testing.T) {
		r := newRecorder()
		p := Start(Config{URL: u, Username: "admin", Password: "s3cret!", Log: testLog()}, r)
		r.waitFor(t, 10*time.Second, "packets", func(r *recorder) bool { return r.h264 >= 50 })
		r.closeAndCheck(t, p)
	})

	for name, cfg := range map[string]Config{
		"no credentials":     {URL: u},
		"wrong password":     {URL: u, Username: "admin", Password: "wr0ngpass"},
		"credentials in URL": {URL: strings.Replace(u, "rtsp://", "rtsp://admin:urlpass99@", 1)},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRecorder()
			var logs strings.Builder
			var logMu sync.Mutex
			cfg.Log = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg.MinBackoff = 20 * time.Millisecond
			p := Start(cfg, r)
			r.waitFor(t, 10*time.Second, "two failures", func(r *recorder) bool { return len(r.discs) >= 2 })
			r.closeAndCheck(t, p)
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.connected) != 0 || r.packets != 0 {
				t.Errorf("connected without valid credentials: %d connections, %d packets", len(r.connected), r.packets)
			}
			for _, d := range r.discs {
				if !IsAuthError(d.err) {
					t.Errorf("error %v: IsAuthError false", d.err)
				}
				if strings.Contains(d.err.Error(), "urlpass99") || strings.Contains(d.err.Error(), "wr0ngpass") {
					t.Errorf("error leaks a password: %v", d.err)
				}
			}
			logMu.Lock()
			defer logMu.Unlock()
			if strings.Contains(logs.String(), "wr0ngpass") || strings.Contains(logs.String(), "urlpass99") {
				t.Errorf("log leaks a password:\n%s", logs.String())
			}
		})
	}
}

type lockedWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestPullBackoffGrows(t *testing.T) {
	// A port nobody listens on: every attempt fails at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	r := newRecorder()
	p := Start(Config{URL: "rtsp://" + addr + "/cam1", MinBackoff: 10 * time.Millisecond, MaxBackoff: 160 * time.Millisecond}, r)
	r.waitFor(t, 10*time.Second, "8 failures", func(r *recorder) bool { return len(r.discs) >= 8 })
	r.closeAndCheck(t, p)

	r.mu.Lock()
	defer r.mu.Unlock()
	want := []time.Duration{10, 20, 40, 80, 160, 160, 160, 160}
	for i, w := range want {
		w *= time.Millisecond
		got := r.discs[i].retry
		if got < w || got > w+w/10 {
			t.Errorf("attempt %d: retryIn %v, want %v (+<10%% jitter, capped)", i, got, w)
		}
		if got > 160*time.Millisecond {
			t.Errorf("attempt %d: retryIn %v above MaxBackoff", i, got)
		}
		if i > 0 {
			gap := r.discs[i].at.Sub(r.discs[i-1].at)
			if gap < r.discs[i-1].retry {
				t.Errorf("attempt %d came %v after the previous failure, before its retryIn %v", i, gap, r.discs[i-1].retry)
			}
		}
	}
}

func TestPullBadConfig(t *testing.T) {
	r := newRecorder()
	p := Start(Config{URL: "http://x/y", MinBackoff: 10 * time.Millisecond}, r)
	r.waitFor(t, 5*time.Second, "a failure", func(r *recorder) bool { return len(r.discs) >= 1 })
	r.closeAndCheck(t, p)

	r = newRecorder()
	p = Start(Config{URL: "rtsp://127.0.0.1:1/x", Transport: "carrier-pigeon", MinBackoff: 10 * time.Millisecond}, r)
	r.waitFor(t, 5*time.Second, "a failure", func(r *recorder) bool { return len(r.discs) >= 1 })
	r.closeAndCheck(t, p)
	if !strings.Contains(r.discs[0].err.Error(), "transport") {
		t.Errorf("err %v", r.discs[0].err)
	}
}

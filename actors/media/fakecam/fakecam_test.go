package fakecam

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// testLog shows the cameras' debug logs with FAKECAM_DEBUG=1.
func testLog() *slog.Logger {
	if os.Getenv("FAKECAM_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func startCam(t *testing.T, o Options) *Camera {
	t.Helper()
	if o.Log == nil {
		o.Log = testLog()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

type probeResult struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
}

// ffprobe reads url with the given RTSP transport ("tcp" or "udp").
func ffprobe(t *testing.T, url, transport string) (probeResult, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-v", "error",
		"-rtsp_transport", transport,
		"-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height",
		"-of", "json", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var res probeResult
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
			return res, stderr.String(), fmt.Errorf("ffprobe output %q: %w", stdout.String(), jerr)
		}
	}
	return res, stderr.String(), err
}

func expectVideo(t *testing.T, url, transport string, w, h int) {
	t.Helper()
	start := time.Now()
	res, stderr, err := ffprobe(t, url, transport)
	if err != nil {
		t.Fatalf("ffprobe %s over %s: %v\n%s", url, transport, err, stderr)
	}
	if len(res.Streams) != 1 {
		t.Fatalf("ffprobe over %s: streams %+v", transport, res.Streams)
	}
	s := res.Streams[0]
	if s.CodecName != "h264" || s.Width != w || s.Height != h {
		t.Fatalf("ffprobe over %s: got %s %dx%d, want h264 %dx%d", transport, s.CodecName, s.Width, s.Height, w, h)
	}
	t.Logf("ffprobe %s over %s: h264 %dx%d in %v", url, transport, s.Width, s.Height, time.Since(start).Round(time.Millisecond))
}

func TestFFprobeTCPAndUDPOnTwoPaths(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Paths: []string{"cam1", "/cam2/"}})
	if got := c.Paths(); len(got) != 2 || got[0] != "cam1" || got[1] != "cam2" {
		t.Fatalf("Paths() = %v", got)
	}
	if !strings.HasPrefix(c.URL("cam1"), "rtsp://127.0.0.1:") || !strings.HasSuffix(c.URL("cam1"), "/cam1") {
		t.Fatalf("URL = %s", c.URL("cam1"))
	}
	if host, port, err := net.SplitHostPort(c.Addr()); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr = %s (%v)", c.Addr(), err)
	}
	for _, tc := range []struct{ path, transport string }{
		{"cam1", "tcp"}, {"cam1", "udp"}, {"cam2", "tcp"}, {"cam2", "udp"},
	} {
		t.Run(tc.path+"/"+tc.transport, func(t *testing.T) {
			t.Parallel()
			expectVideo(t, c.URL(tc.path), tc.transport, 640, 360)
		})
	}
	t.Run("unknown path", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := ffprobe(t, c.URL("nope"), "tcp")
		if err == nil || !strings.Contains(stderr, "404") {
			t.Fatalf("want 404, got err=%v stderr=%s", err, stderr)
		}
	})
}

func TestAuthAndConfiguredSize(t *testing.T) {
	t.Parallel()
	const user, pass = "viewer", "s3cret/:@pw"
	c := startCam(t, Options{User: user, Pass: pass, Width: 320, Height: 180, Paths: []string{"cam1"}})
	withCreds := c.URL("cam1")
	if !strings.Contains(withCreds, "viewer:") {
		t.Fatalf("URL has no credentials: %s", withCreds)
	}
	bare := "rtsp://" + c.Addr() + "/cam1"
	wrong := "rtsp://viewer:wrong@" + c.Addr() + "/cam1"

	t.Run("no credentials", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := ffprobe(t, bare, "tcp")
		if err == nil || !strings.Contains(stderr, "401") {
			t.Fatalf("want 401, got err=%v stderr=%s", err, stderr)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := ffprobe(t, wrong, "tcp")
		if err == nil {
			t.Fatalf("wrong password accepted; stderr=%s", stderr)
		}
	})
	t.Run("gortsplib client without credentials", func(t *testing.T) {
		t.Parallel()
		u, err := base.ParseURL(bare)
		if err != nil {
			t.Fatal(err)
		}
		cl := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		_, res, err := cl.Describe(u)
		if err == nil || res == nil || res.StatusCode != base.StatusUnauthorized {
			t.Fatalf("want 401, got res=%v err=%v", res, err)
		}
	})
	t.Run("with credentials tcp", func(t *testing.T) {
		t.Parallel()
		expectVideo(t, withCreds, "tcp", 320, 180)
	})
	t.Run("with credentials udp", func(t *testing.T) {
		t.Parallel()
		expectVideo(t, withCreds, "udp", 320, 180)
	})
}

// reader is a gortsplib client playing a camera path over TCP.
type reader struct {
	cl      *gortsplib.Client
	forma   *format.H264 // as DESCRIBE announced it
	packets atomic.Int64
}

func play(t *testing.T, rawURL string, onAU func(pkt *rtp.Packet, au [][]byte)) (*reader, error) {
	t.Helper()
	return playPackets(t, rawURL, nil, onAU)
}

// playPackets is play that also shows every RTP packet to onPacket (when
// not nil) before decoding it.
func playPackets(t *testing.T, rawURL string, onPacket func(pkt *rtp.Packet), onAU func(pkt *rtp.Packet, au [][]byte)) (*reader, error) {
	t.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.ProtocolTCP
	r := &reader{cl: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}}
	if err := r.cl.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.cl.Describe(u)
	if err != nil {
		r.cl.Close()
		return nil, err
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		r.cl.Close()
		return nil, errors.New("no H264 media")
	}
	r.forma = forma
	dec, err := forma.CreateDecoder()
	if err != nil {
		r.cl.Close()
		return nil, err
	}
	if err := r.cl.SetupAll(desc.BaseURL, []*description.Media{medi}); err != nil {
		r.cl.Close()
		return nil, err
	}
	r.cl.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		r.packets.Add(1)
		if onPacket != nil {
			onPacket(pkt)
		}
		if onAU == nil {
			return
		}
		au, err := dec.Decode(pkt)
		if err != nil {
			if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
				t.Errorf("RTP decode: %v", err)
			}
			return
		}
		onAU(pkt, au)
	})
	if _, err := r.cl.Play(nil); err != nil {
		r.cl.Close()
		return nil, err
	}
	return r, nil
}

func TestDropEveryClosesReadersWhoReconnect(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{DropEvery: 2 * time.Second})
	deadline := time.Now().Add(5 * time.Second)
	var drops, conns int
	var perConn []int64
	for time.Now().Before(deadline) {
		r, err := play(t, c.URL("cam1"), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", conns+1, err)
		}
		conns++
		// The dropped session's cleanup is asynchronous: it may still count
		// for a moment after the new one plays.
		waitFor(t, 2*time.Second, func() bool { return c.Readers() == 1 }, "Readers() == 1 while playing")
		waitErr := make(chan error, 1)
		go func() { waitErr <- r.cl.Wait() }()
		select {
		case err := <-waitErr:
			drops++
			t.Logf("connection %d closed by the camera after %d packets: %v", conns, r.packets.Load(), err)
		case <-time.After(time.Until(deadline)):
		}
		r.cl.Close()
		perConn = append(perConn, r.packets.Load())
	}
	if drops < 2 {
		t.Fatalf("%d drops in 5 s with DropEvery 2s, want ≥ 2", drops)
	}
	// Every connection but the last one lived until a drop; the one after
	// the first drop proves reconnecting works and receives video again.
	if perConn[0] == 0 || perConn[1] == 0 {
		t.Fatalf("packets per connection %v: a (re)connected reader received nothing", perConn)
	}
	waitFor(t, 3*time.Second, func() bool { return c.Readers() == 0 }, "Readers() back to 0")
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPacingAcrossTheLoop reads past the end of the 10 s clip: one access
// unit per 1/FPS, RTP timestamps +3600 (90 kHz / 25) every frame including
// across the loop, an IDR with SPS and PPS every 25 frames.
func TestPacingAcrossTheLoop(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{})
	const frames = clipSeconds*25 + 30 // past the loop point, whatever the phase
	var (
		mu       sync.Mutex
		aus      int
		lastTS   uint32
		lastIDR  = -1
		first    time.Time
		bytesIn  int
		failures []string
		done     = make(chan struct{})
	)
	fail := func(f string, a ...any) {
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(f, a...))
		}
	}
	r, err := play(t, c.URL("cam1"), func(pkt *rtp.Packet, au [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		if aus == frames {
			return
		}
		idr := h264.IsRandomAccess(au)
		if aus == 0 && !idr {
			return // wait for the first keyframe, as a decoder would
		}
		if aus == 0 {
			first = time.Now()
		} else if d := pkt.Timestamp - lastTS; d != 3600 {
			fail("AU %d: RTP timestamp step %d, want 3600", aus, int32(d))
		}
		if idr {
			if len(au) < 3 || h264.NALUType(au[0][0]&0x1f) != h264.NALUTypeSPS || h264.NALUType(au[1][0]&0x1f) != h264.NALUTypePPS {
				fail("AU %d: IDR without SPS+PPS in front", aus)
			}
			if lastIDR >= 0 && aus-lastIDR != 25 {
				fail("AU %d: IDR after %d frames, want 25", aus, aus-lastIDR)
			}
			lastIDR = aus
		}
		for _, n := range au {
			bytesIn += len(n)
		}
		lastTS = pkt.Timestamp
		aus++
		if aus == frames {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.cl.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d access units in 20 s", aus)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Error(f)
	}
	elapsed := time.Since(first)
	fps := float64(frames-1) / elapsed.Seconds()
	kbps := float64(bytesIn*8) / elapsed.Seconds() / 1000
	t.Logf("%d AUs in %v: %.2f fps, %.0f kbit/s of H264", frames, elapsed.Round(time.Millisecond), fps, kbps)
	if fps < 24 || fps > 26 {
		t.Errorf("paced at %.2f fps, want 25", fps)
	}
	if kbps < 1000 || kbps > 3000 {
		t.Errorf("bitrate %.0f kbit/s, want about 2000", kbps)
	}
}

func TestGarbageDoesNotBreakIt(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{})
	junk := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	huge := strings.Repeat("A", 200_000)
	payloads := [][]byte{
		junk(64 << 10),
		append([]byte("$\x00\xff\xff"), junk(1000)...), // interleaved frame, lying length
		[]byte("OPTIONS rtsp://x/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n" + string(junk(4096))),
		[]byte("DESCRIBE rtsp://x/cam1 RTSP/1.0\r\nCSeq: 1\r\nX: " + huge + "\r\n\r\n"),
		[]byte("SETUP rtsp://x/cam1/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: " + string(junk(300)) + "\r\n\r\n"),
		[]byte("PLAY rtsp://x/cam1 RTSP/1.0\r\nCSeq: 3\r\nSession: 12345\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("DESCRIBE rtsp://x/cam1 RTSP/1.0\r\nCSeq: 99999999999999999999\r\nContent-Length: -5\r\n\r\n"),
		[]byte("DESCRIBE rtsp://x/cam1 RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1000000000\r\n\r\n"),
	}
	var wg sync.WaitGroup
	for i, p := range payloads {
		for range 3 {
			wg.Go(func() {
				conn, err := net.DialTimeout("tcp", c.Addr(), 2*time.Second)
				if err != nil {
					t.Errorf("payload %d: dial: %v", i, err)
					return
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				_, _ = conn.Write(p)
				_, _ = conn.Read(make([]byte, 1024))
			})
		}
	}
	// Junk datagrams on the UDP transport ports too.
	for _, port := range []int{c.udpRTP, c.udpRTCP} {
		conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			_, _ = conn.Write(junk(1 + int(junk(1)[0])*5))
		}
		conn.Close()
	}
	wg.Wait()
	expectVideo(t, c.URL("cam1"), "tcp", 640, 360)
	expectVideo(t, c.URL("cam1"), "udp", 640, 360)
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Paths: []string{"a", "a"}},
		{Paths: []string{"/"}},
		{Pass: "x"},
		{Width: 641},
		{FPS: -1},
		{DropEvery: -time.Second},
		{Codec: "vp8"},
		{Audio: "mp3"},
	} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("Start(%+v) accepted", o)
		}
	}
}

// TestNoFFmpeg runs before the parallel tests (it changes PATH): an uncached
// clip without ffmpeg is a clear error.
func TestNoFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{Width: 18, Height: 18, FPS: 1, Bitrate: 12345, GOP: 1})
	if !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("Start without ffmpeg: %v, want ErrNoFFmpeg", err)
	}
}

// TestManyCamerasShareOneClip starts 20 cameras at once: one encode, one
// clip in memory, 20 servers on distinct ports.
func TestManyCamerasShareOneClip(t *testing.T) {
	t.Parallel()
	const n = 20
	cams := make([]*Camera, n)
	var wg sync.WaitGroup
	for i := range cams {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := Start(ctx, Options{Width: 320, Height: 180, Log: testLog()})
			if err != nil {
				t.Errorf("camera %d: %v", i, err)
				return
			}
			cams[i] = c
		})
	}
	wg.Wait()
	addrs := map[string]bool{}
	for _, c := range cams {
		if c == nil {
			t.FailNow()
		}
		t.Cleanup(c.Close)
		if c.clip != cams[0].clip {
			t.Fatal("cameras with the same options hold different clips")
		}
		addrs[c.Addr()] = true
	}
	if len(addrs) != n {
		t.Fatalf("%d distinct addresses for %d cameras", len(addrs), n)
	}
	expectVideo(t, cams[n-1].URL("cam1"), "tcp", 320, 180)
}

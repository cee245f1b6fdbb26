package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	probe "github.com/argus-vms/argus/test/ffprobe"
	"github.com/argus-vms/argus/test/testenv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/pull"
)

func testLog() *slog.Logger {
	if os.Getenv("RELAY_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// node is what a cluster node does around the relay: an RTSP server whose
// Open starts a real pull from a fake camera into a Stream, on demand.
type node struct {
	t     *testing.T
	cam   *fakecam.Camera
	srv   *Server
	opens atomic.Int32

	mu      sync.Mutex
	streams map[Key]*Stream
	pulls   []*pull.Puller
	changes map[Key][]int // readers-changed callbacks

	revoked atomic.Bool // the key behind token "revocable" was deleted
}

type pullHandler struct{ st *Stream }

func (h pullHandler) OnConnected(desc *description.Session)           { h.st.SetSource(desc) }
func (h pullHandler) OnPacket(m *description.Media, p *rtp.Packet)    { h.st.WritePacket(m, p) }
func (h pullHandler) OnDisconnected(err error, retryIn time.Duration) { h.st.SetSource(nil) }

func startNode(t *testing.T, camOpts fakecam.Options) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if camOpts.Paths == nil {
		camOpts.Paths = []string{"cam1", "cam2"}
	}
	cam, err := fakecam.Start(ctx, camOpts)
	if err != nil {
		t.Fatalf("fakecam: %v", err)
	}
	t.Cleanup(cam.Close)
	n := &node{t: t, cam: cam, streams: map[Key]*Stream{}, changes: map[Key][]int{}}
	srv, err := NewServer(Config{
		RTSPAddress:    "127.0.0.1:0",
		UDPRTPAddress:  "127.0.0.1:0",
		UDPRTCPAddress: "127.0.0.1:0",
		Authorize: func(k Key, q url.Values) (Grant, error) {
			switch q.Get("token") {
			case "ok":
				return Grant{}, nil
			case "short": // expires 2 s from now
				return Grant{Until: time.Now().Add(2 * time.Second)}, nil
			case "revocable":
				return Grant{Check: func() error {
					if n.revoked.Load() {
						return errors.New("key deleted")
					}
					return nil
				}}, nil
			}
			return Grant{}, errors.New("bad token")
		},
		Open: n.open,
		Log:  testLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	t.Cleanup(n.close)
	return n
}

func (n *node) open(ctx context.Context, k Key) (*Stream, error) {
	n.opens.Add(1)
	st, err := n.stream(k)
	if err != nil {
		return nil, err
	}
	if err := st.WaitReady(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// stream returns the stream of k, starting its pull on first use.
// ready returns the stream of k once its source is ready.
func (n *node) ready(k Key) *Stream {
	n.t.Helper()
	st, err := n.stream(k)
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		n.t.Fatal(err)
	}
	return st
}

func (n *node) stream(k Key) (*Stream, error) {
	if k.Channel != 1 {
		return nil, fmt.Errorf("channel %d: %w", k.Channel, ErrNotFound)
	}
	found := false
	for _, p := range n.cam.Paths() {
		found = found || p == k.Device
	}
	if !found {
		return nil, fmt.Errorf("device %s: %w", k.Device, ErrNotFound)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.streams[k]
	if st == nil {
		st = NewStream(k)
		st.SetLogger(testLog())
		st.OnReadersChanged(func(c int) {
			n.mu.Lock()
			n.changes[k] = append(n.changes[k], c)
			n.mu.Unlock()
		})
		n.streams[k] = st
		n.pulls = append(n.pulls, pull.Start(pull.Config{URL: n.cam.URL(k.Device), MinBackoff: 50 * time.Millisecond, Log: testLog()}, pullHandler{st}))
	}
	return st, nil
}

func (n *node) get(k Key) *Stream {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.streams[k]
}

func (n *node) close() {
	n.srv.Close()
	n.mu.Lock()
	pulls := n.pulls
	streams := n.streams
	n.mu.Unlock()
	for _, p := range pulls {
		p.Close()
	}
	for _, st := range streams {
		st.Close()
	}
}

func (n *node) url(path, query string) string {
	u := "rtsp://" + n.srv.RTSPAddr() + path
	if query != "" {
		u += "?" + query
	}
	return u
}

type probeOut struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
}

// ffprobe runs ffprobe on u and returns its parsed output, or its error
// output when it fails.
func ffprobe(t *testing.T, u string, args ...string) (probeOut, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := append([]string{"-v", "error"}, args...)
	a = append(a, "-show_streams", "-of", "json", u)
	cmd := exec.CommandContext(ctx, "ffprobe", a...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var out probeOut
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
			return out, stderr.String(), jerr
		}
	}
	return out, stderr.String(), err
}

func wantH264(t *testing.T, out probeOut, w, h int) {
	t.Helper()
	if len(out.Streams) != 1 {
		t.Fatalf("streams: %+v", out.Streams)
	}
	s := out.Streams[0]
	if s.CodecName != "h264" || s.Width != w || s.Height != h {
		t.Fatalf("got %s %dx%d, want h264 %dx%d", s.CodecName, s.Width, s.Height, w, h)
	}
}

func TestRTSPProbeTCPAndUDP(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{})
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			out, stderr, err := ffprobe(t, n.url("/live/cam1/1", "token=ok"), "-rtsp_transport", tr)
			if err != nil {
				t.Fatalf("ffprobe over %s: %v\n%s", tr, err, stderr)
			}
			wantH264(t, out, 640, 360)
		})
	}
	if got := n.opens.Load(); got < 2 {
		t.Errorf("Open called %d times", got)
	}
	n.mu.Lock()
	pulls := len(n.pulls)
	n.mu.Unlock()
	if pulls != 1 {
		t.Errorf("%d pulls for one stream", pulls)
	}
}

func TestRTSPUnauthorized(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{})
	for _, q := range []string{"token=bad", "", "tok=ok"} {
		_, stderr, err := ffprobe(t, n.url("/live/cam1/1", q), "-rtsp_transport", "tcp")
		if err == nil {
			t.Fatalf("query %q: ffprobe succeeded", q)
		}
		if !strings.Contains(stderr, "401") {
			t.Errorf("query %q: want 401, got: %s", q, stderr)
		}
	}
	if got := n.opens.Load(); got != 0 {
		t.Errorf("Open called %d times for unauthorized readers", got)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pulls) != 0 {
		t.Errorf("a pull started for unauthorized readers")
	}
}

// A session ends when its grant lapses: the token's expiry, or its key
// deleted while ffmpeg reads.
func TestSessionEndsWhenItsGrantLapses(t *testing.T) {
	n := startNode(t, fakecam.Options{})
	for _, tc := range []struct {
		token  string
		revoke func()
	}{
		{"short", func() {}},
		{"revocable", func() { time.Sleep(2 * time.Second); n.revoked.Store(true) }},
	} {
		go tc.revoke()
		t0 := time.Now()
		r := ffmpegRead(context.Background(), n.url("/live/cam1/1", "token="+tc.token), "tcp", 15)
		took := time.Since(t0)
		if took > 8*time.Second || r.frames == 0 {
			t.Errorf("token %s: read %d frames for %s (err %v %s); want it cut after ~2 s", tc.token, r.frames, took.Round(time.Millisecond), r.err, r.stderr)
		}
	}
}

func TestRTSPNotFound(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{})
	for _, p := range []string{"/live/cam1/2", "/live/cam1/0", "/live/cam1/01", "/live/cam1/x", "/live/nope/1", "/other", "/live/cam1", "/live/cam1/1/2", "/live/CAM1/1"} {
		_, stderr, err := ffprobe(t, n.url(p, "token=ok"), "-rtsp_transport", "tcp")
		if err == nil {
			t.Fatalf("%s: ffprobe succeeded", p)
		}
		if !strings.Contains(stderr, "404") {
			t.Errorf("%s: want 404, got: %s", p, stderr)
		}
	}
}

// readerRun is one ffmpeg reader's outcome.
type readerRun struct {
	frames int
	err    error
	stderr string
}

// ffmpegRead decodes u for secs seconds and counts the decoded frames.
func ffmpegRead(ctx context.Context, u, transport string, secs int) readerRun {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
		"-i", u, "-t", strconv.Itoa(secs), "-f", "null", "-progress", "pipe:1", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := readerRun{err: err, stderr: stderr.String()}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			r.frames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return r
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestTwentyConcurrentReaders(t *testing.T) {
	n := startNode(t, fakecam.Options{})
	// warm the stream up (pull running, GOP cached) with one probe
	if _, stderr, err := ffprobe(t, n.url("/live/cam1/1", "token=ok"), "-rtsp_transport", "tcp"); err != nil {
		t.Fatalf("warm-up: %v\n%s", err, stderr)
	}
	st := n.get(Key{Device: "cam1", Channel: 1})
	testenv.WaitFor(t, 5*time.Second, "no readers after the probe", func() bool { return st.Readers() == 0 })

	// baseline: the pull alone (fakecam, pull, decode, GOP cache) for 2 s
	const window = 2 * time.Second
	c0 := cpuSelf()
	time.Sleep(window)
	idle := cpuSelf() - c0

	// Each reads 8 s: on a loaded machine the last of 20 may connect seconds
	// after the first, and every one must still be playing in the window.
	const readers, secs = 20, 8
	u := n.url("/live/cam1/1", "token=ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make([]readerRun, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() { results[i] = ffmpegRead(ctx, u, "tcp", secs) })
	}
	// steady state: all 20 playing; same window
	testenv.WaitFor(t, 10*time.Second, "20 readers", func() bool { return st.Readers() == readers })
	c1 := cpuSelf()
	time.Sleep(window)
	busy := cpuSelf() - c1
	during := st.Readers()
	wg.Wait()

	for i, r := range results {
		if r.err != nil {
			t.Errorf("reader %d: %v\n%s", i, r.err, r.stderr)
			continue
		}
		// 25 fps for 8 s (+ the cached GOP); allow for start-up
		if r.frames < 180 {
			t.Errorf("reader %d decoded %d frames, want ≥ 180", i, r.frames)
		}
		if strings.TrimSpace(r.stderr) != "" {
			t.Errorf("reader %d stderr: %s", i, r.stderr)
		}
	}
	if during != readers {
		t.Errorf("Readers() = %d during the measurement, want %d", during, readers)
	}
	testenv.WaitFor(t, 5*time.Second, "readers back to 0", func() bool { return st.Readers() == 0 })
	n.mu.Lock()
	ch := append([]int(nil), n.changes[Key{Device: "cam1", Channel: 1}]...)
	n.mu.Unlock()
	if len(ch) == 0 || ch[len(ch)-1] != 0 || slices.Max(ch) != readers {
		t.Errorf("readers-changed callbacks %v: want a peak of %d and 0 last", ch, readers)
	}
	fanout := busy - idle
	t.Logf("CPU of the relay process over %v: source only %v, with %d TCP readers %v → fan-out %v = %.2f%% of a core per reader (%.0f kbps source)",
		window, idle.Round(time.Millisecond), readers, busy.Round(time.Millisecond), fanout.Round(time.Millisecond),
		100*fanout.Seconds()/window.Seconds()/readers, st.BitrateKbps())
}

// TestHotJoinFirstFrame: a reader joining a running stream gets the cached
// GOP (from its IDR) at once, so ffmpeg decodes without waiting for the
// next keyframe and without decode errors.
func TestHotJoinDecodesAtOnce(t *testing.T) {
	t.Parallel()
	// one IDR every 4 s: without the cached GOP a 1 s reader would often
	// see no keyframe at all
	n := startNode(t, fakecam.Options{GOP: 100})
	u := n.url("/live/cam1/1", "token=ok")
	if _, stderr, err := ffprobe(t, u, "-rtsp_transport", "tcp"); err != nil {
		t.Fatalf("warm-up: %v\n%s", err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, tr := range []string{"tcp", "udp", "tcp"} {
		time.Sleep(time.Duration(700*i) * time.Millisecond) // join at various points of the GOP
		r := ffmpegRead(ctx, u, tr, 1)
		if r.err != nil {
			t.Fatalf("%s reader: %v\n%s", tr, r.err, r.stderr)
		}
		// 1 s of output at 25 fps; the cached GOP comes on top of it
		if r.frames < 20 {
			t.Errorf("%s reader decoded %d frames in 1 s", tr, r.frames)
		}
		if strings.Contains(r.stderr, "error") || strings.Contains(r.stderr, "non-existing PPS") {
			t.Errorf("%s reader decode errors: %s", tr, r.stderr)
		}
	}
}

// TestHotJoinFirstFrame measures, with a gortsplib client, the time from
// PLAY to the first complete access unit of a reader joining a hot stream:
// it must be an IDR, arrive within 100 ms, and RTP-Info must point at it.
func TestHotJoinFirstFrame(t *testing.T) {
	n := startNode(t, fakecam.Options{})
	if _, err := n.stream(Key{Device: "cam1", Channel: 1}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "stream ready", func() bool { return n.get(Key{Device: "cam1", Channel: 1}).Ready() })
	for i, proto := range []gortsplib.Protocol{gortsplib.ProtocolTCP, gortsplib.ProtocolUDP, gortsplib.ProtocolTCP} {
		time.Sleep(time.Duration(300*i) * time.Millisecond)
		func() {
			u, err := base.ParseURL(n.url("/live/cam1/1", "token=ok"))
			if err != nil {
				t.Fatal(err)
			}
			c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			desc, _, err := c.Describe(u)
			if err != nil {
				t.Fatal(err)
			}
			var forma *format.H264
			medi := desc.FindFormat(&forma)
			if medi == nil {
				t.Fatal("no H264 media")
			}
			if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
				t.Fatal(err)
			}
			dec, err := forma.CreateDecoder()
			if err != nil {
				t.Fatal(err)
			}
			type first struct {
				at  time.Time
				idr bool
			}
			got := make(chan first, 1)
			var firstSeq atomic.Int32
			firstSeq.Store(-1)
			c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
				firstSeq.CompareAndSwap(-1, int32(pkt.SequenceNumber))
				au, err := dec.Decode(pkt)
				if err != nil {
					return
				}
				select {
				case got <- first{time.Now(), h264.IsRandomAccess(au)}:
				default:
				}
			})
			t0 := time.Now()
			res, err := c.Play(nil)
			if err != nil {
				t.Fatal(err)
			}
			var f first
			select {
			case f = <-got:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no access unit", proto)
			}
			lat := f.at.Sub(t0)
			t.Logf("%s: first access unit %v after PLAY (IDR: %v)", proto, lat.Round(100*time.Microsecond), f.idr)
			if !f.idr {
				t.Errorf("%s: first access unit is not an IDR", proto)
			}
			if lat > 100*time.Millisecond {
				t.Errorf("%s: first frame %v after PLAY, want ≤ 100 ms", proto, lat)
			}
			var ri headers.RTPInfo
			if err := ri.Unmarshal(res.Header["RTP-Info"]); err != nil || len(ri) != 1 || ri[0].SequenceNumber == nil {
				t.Fatalf("RTP-Info %v: %v", res.Header["RTP-Info"], err)
			}
			if int32(*ri[0].SequenceNumber) != firstSeq.Load() {
				t.Errorf("%s: RTP-Info seq %d, first packet %d", proto, *ri[0].SequenceNumber, firstSeq.Load())
			}
		}()
	}
}

// TestLLHLS: ll/ serves LL-HLS next to HLS: parts, blocking playlist
// reloads that answer once the part asked for exists, the token carried in
// every URI, and a stream ffprobe reads; both forms are one reader.
func TestLLHLS(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{Audio: fakecam.AudioAAC})
	st := n.ready(Key{Device: "cam1", Channel: 1})
	hs := httptest.NewServer(http.StripPrefix("/hls/cam1/1/", st.HLSHandler()))
	defer hs.Close()

	ss := probe.Streams(t, hs.URL+"/hls/cam1/1/ll/index.m3u8?token=ok")
	if v, ok := probe.Of(ss, "video"); !ok || v.Codec != "h264" {
		t.Fatalf("LL-HLS streams %+v, want h264", ss)
	}
	if a, ok := probe.Of(ss, "audio"); !ok || a.Codec != "aac" {
		t.Errorf("LL-HLS streams %+v, want aac", ss)
	}
	index := httpGet(t, hs.URL+"/hls/cam1/1/ll/index.m3u8?token=ok")
	var media string
	for l := range strings.SplitSeq(index, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			media = l
		}
	}
	playlist := hs.URL + "/hls/cam1/1/ll/" + strings.TrimSuffix(media, "?token=ok")
	body := httpGet(t, playlist+"?token=ok")
	if !strings.Contains(body, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES") || !strings.Contains(body, "#EXT-X-PART:") {
		t.Fatalf("not an LL-HLS media playlist (%s):\n%s\nfrom:\n%s", playlist, body, index)
	}
	msn, segs := -1, 0
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"); ok {
			msn, _ = strconv.Atoi(v)
		}
		if strings.HasPrefix(l, "#EXT-X-PART:") && !strings.Contains(l, "?token=ok") {
			t.Errorf("part URI lost the token: %s", l)
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			segs++
		}
	}
	if msn < 0 {
		t.Fatalf("no media sequence:\n%s", body)
	}
	// a blocking reload for the next segment's first part
	next := msn + segs + 1
	t0 := time.Now()
	body = httpGet(t, fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=0&token=ok", playlist, next))
	waited := time.Since(t0)
	if waited > 5*time.Second {
		t.Errorf("blocking reload answered after %v", waited)
	}
	last := -1
	if v, ok := strings.CutPrefix(body[strings.Index(body, "#EXT-X-MEDIA-SEQUENCE:"):], "#EXT-X-MEDIA-SEQUENCE:"); ok {
		last, _ = strconv.Atoi(strings.SplitN(v, "\n", 2)[0])
	}
	if last < 0 || !strings.Contains(body, "#EXT-X-PART:") {
		t.Errorf("blocking reload answer:\n%s", body)
	}
	t.Logf("blocking reload for msn %d part 0 answered in %v", next, waited)
	httpGet(t, hs.URL+"/hls/cam1/1/index.m3u8?token=ok") // the standard form too
	if r := st.Readers(); r != 1 {
		t.Errorf("Readers() = %d with both HLS forms requested, want 1", r)
	}
}

func TestHLS(t *testing.T) {
	t.Parallel()
	old := hlsIdleTimeout
	hlsIdleTimeout = 1500 * time.Millisecond
	t.Cleanup(func() { hlsIdleTimeout = old })

	n := startNode(t, fakecam.Options{})
	st, err := n.stream(Key{Device: "cam1", Channel: 1})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	var badToken atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/hls/cam1/1/", http.StripPrefix("/hls/cam1/1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// what the gateway does: every request, segments included, needs the token
		if r.URL.Query().Get("token") != "ok" {
			badToken.Add(1)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		st.HLSHandler().ServeHTTP(w, r)
	})))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	index := hs.URL + "/hls/cam1/1/index.m3u8?token=ok"
	out, stderr, err := ffprobe(t, index)
	if err != nil {
		t.Fatalf("ffprobe HLS: %v\n%s", err, stderr)
	}
	wantH264(t, out, 640, 360)
	if badToken.Load() != 0 {
		t.Errorf("%d HLS requests lost the token", badToken.Load())
	}
	if st.Readers() != 1 {
		t.Errorf("Readers() = %d while HLS is requested, want 1", st.Readers())
	}

	// the playlists list their URIs with the token
	body := httpGet(t, index)
	var media string
	for l := range strings.SplitSeq(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			media = l
		}
	}
	if !strings.HasSuffix(media, "?token=ok") {
		t.Fatalf("multivariant playlist URI %q lost the token:\n%s", media, body)
	}
	body = httpGet(t, hs.URL+"/hls/cam1/1/"+media)
	segs := 0
	for l := range strings.SplitSeq(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			segs++
			if !strings.HasSuffix(l, ".ts?token=ok") {
				t.Errorf("segment URI %q lost the token", l)
			}
		}
	}
	if segs == 0 {
		t.Errorf("no segments in the media playlist:\n%s", body)
	}
	if res, err := http.Get(hs.URL + "/hls/cam1/1/nothing.ts?token=ok"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown file: %v %v", err, res.StatusCode)
	}

	// idle: HLS stops counting as a reader
	testenv.WaitFor(t, 5*time.Second, "HLS idle", func() bool { return st.Readers() == 0 })
	st.mu.Lock()
	running := st.hls != [hlsKinds]*hlsMuxer{}
	st.mu.Unlock()
	if running {
		t.Errorf("HLS muxer still running after the idle timeout")
	}
	// and starts again on demand
	out, stderr, err = ffprobe(t, index)
	if err != nil {
		t.Fatalf("ffprobe HLS again: %v\n%s", err, stderr)
	}
	wantH264(t, out, 640, 360)
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, res.Status, b)
	}
	return string(b)
}

func TestGarbageOnRTSPPort(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{})
	junk := [][]byte{
		[]byte("\x00\x01\x02\x03\xff\xfe garbage \r\n\r\n"),
		[]byte("DESCRIBE\r\n\r\n"),
		[]byte("DESCRIBE rtsp://x/live/cam1/1 RTSP/1.0\r\n\r\n"), // no CSeq
		[]byte("SETUP rtsp://x/live/cam1/1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: nonsense\r\n\r\n"),
		[]byte("PLAY rtsp://x/live/cam1/1 RTSP/1.0\r\nCSeq: 1\r\nSession: 12345\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999999\r\n\r\n"),
		[]byte("$\x00\xff\xff" + strings.Repeat("A", 100)),
		bytes.Repeat([]byte("A"), 70000),
	}
	for _, j := range junk {
		c, err := net.Dial("tcp", n.srv.RTSPAddr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(j)
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	// and on the UDP ports
	rtpAddr, rtcpAddr := n.srv.UDPAddrs()
	for _, a := range []string{rtpAddr, rtcpAddr} {
		c, err := net.Dial("udp", a)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("\x80\x60garbage"))
		c.Close()
	}
	out, stderr, err := ffprobe(t, n.url("/live/cam1/1", "token=ok"), "-rtsp_transport", "tcp")
	if err != nil {
		t.Fatalf("relay dead after garbage: %v\n%s", err, stderr)
	}
	wantH264(t, out, 640, 360)
}

// TestReadersSurviveSourceReconnect: the camera drops its connections; the
// pull reconnects with the same description and the relay's readers keep
// decoding one continuous stream.
func TestReadersSurviveSourceReconnect(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{DropEvery: 1500 * time.Millisecond})
	u := n.url("/live/cam1/1", "token=ok")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := ffmpegRead(ctx, u, "tcp", 4)
	if r.err != nil {
		t.Fatalf("reader: %v\n%s", r.err, r.stderr)
	}
	// the drops cost a little time (backoff 50 ms + reconnect), not the reader
	if r.frames < 60 {
		t.Errorf("decoded %d frames in 4 s across source reconnects", r.frames)
	}
	t.Logf("decoded %d frames in 4 s across source reconnects", r.frames)
	st := n.get(Key{Device: "cam1", Channel: 1})
	testenv.WaitFor(t, 5*time.Second, "readers back to 0", func() bool { return st.Readers() == 0 })
}

func TestSubscribeVideo(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{})
	st := n.ready(Key{Device: "cam2", Channel: 1})
	time.Sleep(300 * time.Millisecond) // let the GOP cache fill a little

	type au struct {
		idr bool
		pts time.Duration
		ntp time.Time
	}
	var mu sync.Mutex
	var got []au
	unsub := st.SubscribeVideo(func(f Frame) {
		idr := false
		for _, n := range f.NALUs {
			if n[0]&0x1f == 5 {
				idr = true
			}
		}
		if idr != f.Random || f.Codec != CodecH264 {
			t.Errorf("frame: IDR %v, Random %v, codec %q", idr, f.Random, f.Codec)
		}
		mu.Lock()
		got = append(got, au{idr, f.PTS, f.NTP})
		mu.Unlock()
	})
	testenv.WaitFor(t, 5*time.Second, "50 AUs", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 50 })
	unsub()
	mu.Lock()
	n1 := len(got)
	mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) > n1+1 {
		t.Errorf("%d AUs after unsubscribe", len(got)-n1)
	}
	if !got[0].idr {
		t.Errorf("first AU is not an IDR")
	}
	for i := 1; i < len(got); i++ {
		if d := got[i].pts - got[i-1].pts; d != 40*time.Millisecond {
			t.Errorf("AU %d: pts step %v, want 40ms", i, d)
			break
		}
	}
	// the cached GOP came first, at once: its AUs are older than now
	if time.Since(got[0].ntp) < 250*time.Millisecond {
		t.Errorf("first AU not from the cache (ntp %v ago)", time.Since(got[0].ntp))
	}
	if kb := st.BitrateKbps(); kb < 500 || kb > 5000 {
		t.Errorf("BitrateKbps = %.0f, want about 2000", kb)
	}
}

func TestKeyPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/live/cam1/1": true, "/live/cam-1_x/12": true, "/live/cam1/1/": true,
		"/live/cam1/0": false, "/live/cam1/-1": false, "/live/cam1/+1": false, "/live/cam1/01": false,
		"/live//1": false, "/live/Cam/1": false, "/live/a/1/b": false, "/hls/a/1": false, "": false,
	} {
		k, ok := ParsePath(p)
		if ok != want {
			t.Errorf("ParsePath(%q) ok=%v, want %v", p, ok, want)
		}
		if ok && k.Path() != strings.TrimSuffix(p, "/") {
			t.Errorf("Path() = %q, want %q", k.Path(), p)
		}
	}
}

// TestNotReady503: a stream whose source never becomes ready answers 503
// after ReadyTimeout.
func TestNotReady503(t *testing.T) {
	t.Parallel()
	st := NewStream(Key{Device: "cam9", Channel: 1})
	defer st.Close()
	srv, err := NewServer(Config{
		RTSPAddress:    "127.0.0.1:0",
		UDPRTPAddress:  "off",
		UDPRTCPAddress: "off",
		ReadyTimeout:   300 * time.Millisecond,
		Authorize:      func(Key, url.Values) (Grant, error) { return Grant{}, nil },
		Open:           func(context.Context, Key) (*Stream, error) { return st, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	start := time.Now()
	_, stderr, err := ffprobe(t, "rtsp://"+srv.RTSPAddr()+"/live/cam9/1", "-rtsp_transport", "tcp")
	if err == nil || !strings.Contains(stderr, "503") {
		t.Fatalf("want 503, got %v: %s", err, stderr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("503 after %v", d)
	}
}

// audioOnReconnect is a pull handler whose camera "gains" an audio track
// when it reconnects: a different description.
type audioOnReconnect struct {
	st    *Stream
	conns atomic.Int32
}

func (h *audioOnReconnect) OnConnected(desc *description.Session) {
	if h.conns.Add(1) >= 2 {
		desc.Medias = append(desc.Medias, &description.Media{
			Type:    description.MediaTypeAudio,
			Formats: []format.Format{&format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}},
		})
	}
	h.st.SetSource(desc)
}
func (h *audioOnReconnect) OnPacket(m *description.Media, p *rtp.Packet) { h.st.WritePacket(m, p) }
func (h *audioOnReconnect) OnDisconnected(error, time.Duration)          {}

// TestDescriptionChangeClosesReaders: when the source reconnects with
// another description, RTSP readers are closed (they reconnect) and new
// readers get the new description.
func TestDescriptionChangeClosesReaders(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cam, err := fakecam.Start(ctx, fakecam.Options{DropEvery: 1200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	st := NewStream(Key{Device: "cam1", Channel: 1})
	defer st.Close()
	h := &audioOnReconnect{st: st}
	p := pull.Start(pull.Config{URL: cam.URL("cam1"), MinBackoff: 50 * time.Millisecond}, h)
	defer p.Close()
	srv, err := NewServer(Config{
		RTSPAddress:    "127.0.0.1:0",
		UDPRTPAddress:  "off",
		UDPRTCPAddress: "off",
		Authorize:      func(Key, url.Values) (Grant, error) { return Grant{}, nil },
		Open: func(ctx context.Context, k Key) (*Stream, error) {
			return st, st.WaitReady(ctx)
		},
		Log: testLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	u, _ := base.ParseURL("rtsp://" + srv.RTSPAddr() + "/live/cam1/1")
	describe := func() (*gortsplib.Client, *description.Session) {
		tcp := gortsplib.ProtocolTCP
		c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		desc, _, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		return c, desc
	}
	testenv.WaitFor(t, 10*time.Second, "first connection", func() bool { return h.conns.Load() == 1 && st.Ready() })
	c, desc := describe()
	defer c.Close()
	if len(desc.Medias) != 1 {
		t.Fatalf("%d medias before the change", len(desc.Medias))
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	var pkts atomic.Int32
	c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) { pkts.Add(1) })
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "one reader", func() bool { return st.Readers() == 1 })
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Logf("reader closed by the relay after %d packets: %v", pkts.Load(), err)
	case <-time.After(10 * time.Second):
		t.Fatal("reader not closed after the description changed")
	}
	if h.conns.Load() < 2 {
		t.Fatal("reader closed before the source reconnected")
	}
	testenv.WaitFor(t, 5*time.Second, "no readers", func() bool { return st.Readers() == 0 })
	testenv.WaitFor(t, 10*time.Second, "ready again", st.Ready)
	c2, desc2 := describe()
	defer c2.Close()
	if len(desc2.Medias) != 2 {
		t.Fatalf("%d medias after the change, want 2", len(desc2.Medias))
	}
}

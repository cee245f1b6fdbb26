// Package fakecam is a real RTSP camera for demos and tests: one gortsplib
// server (TCP and UDP transports) serving the same looping H264 or H265
// clip (ffmpeg's testsrc2, encoded once and cached in os.TempDir()) and,
// optionally, a tone in AAC, G.711 or Opus at rtsp://host:port/<path> for
// every configured path, optionally behind RTSP authentication, with
// connection drops as fault injection. SetView gives a path a picture that
// shows a PTZ position and, optionally, motion (clips encoded on demand
// with the same encoder settings, cached alike).
package fakecam

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"
)

// Options configures a Camera. Zero values take the defaults noted.
type Options struct {
	// Listen is the host:port of the RTSP server (TCP). Port 0 picks a free
	// port (see Addr). Default "127.0.0.1:0". The UDP transport uses two
	// free consecutive ports on the same host, chosen at Start.
	Listen string
	// Paths are served at rtsp://HOST:PORT/<path>, all with the same video.
	// Default ["cam1"].
	Paths []string
	// User and Pass, when User is set, require RTSP authentication (Basic or
	// Digest-MD5); wrong or missing credentials get 401.
	User, Pass string
	// DropEvery > 0 closes every client connection and session each period
	// (fault injection); the streams stay up so readers can reconnect.
	DropEvery time.Duration
	// Width and Height of the video, default 640x360 (must be even).
	Width, Height int
	// FPS, default 25.
	FPS int
	// Bitrate in bits/s, default 2_000_000.
	Bitrate int
	// GOP is the number of frames between IDRs, default FPS (one a second).
	GOP int
	// Codec of the video: CodecH264 ("h264", the default) or CodecH265
	// ("h265"), same size, rate, bitrate and GOP either way.
	Codec string
	// Audio adds a second media, a tone (440 Hz, a beep every second):
	// AudioNone ("" or "none", the default: video only), AudioAAC
	// ("aac"), AudioPCMA ("pcma"), AudioPCMU ("pcmu") or AudioOpus
	// ("opus"). It is paced on the video's clock and restarts with the
	// video's loop, so the two stay aligned.
	Audio string
	// Log receives the camera's events; nil discards them. The password is
	// never logged.
	Log *slog.Logger
}

// Camera is a running fake camera. Close it when done.
type Camera struct {
	o       Options
	log     *slog.Logger
	key     clipKey
	clip    *clip
	audio   *audioClip // nil without audio
	server  *gortsplib.Server
	streams map[string]*gortsplib.ServerStream // by path, without slashes
	order   []*gortsplib.ServerStream          // write order, as o.Paths
	addr    *net.TCPAddr
	udpRTP  int // UDP transport ports, for tests
	udpRTCP int

	mu       sync.Mutex
	conns    map[*gortsplib.ServerConn]struct{}
	sessions map[*gortsplib.ServerSession]struct{}
	playing  map[*gortsplib.ServerSession]struct{}

	// Views (SetView): pathIndex is fixed at Start; pviews (parallel to
	// order, nil for paths without a view) is under vmu; viewsOn turns
	// true at the first SetView, so a camera without views paces as if
	// they did not exist.
	pathIndex map[string]int
	vmu       sync.Mutex
	pviews    []*pathView
	viewSeq   uint64
	viewsOn   atomic.Bool
	viewKick  chan struct{}
	bgCancel  context.CancelFunc

	// ready closes when Start has made the streams: the server runs
	// before, and its handlers must not read them while they are made.
	ready     chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start encodes (or loads the cached) clip and tone, binds the ports and starts
// serving. ctx bounds the start-up only (the clip encode); the camera runs
// until Close.
func Start(ctx context.Context, o Options) (*Camera, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "fakecam")

	key := clipKey{codec: o.Codec, width: o.Width, height: o.Height, fps: o.FPS, bitrate: o.Bitrate, gop: o.GOP}
	cl, err := loadClip(ctx, key)
	if err != nil {
		return nil, err
	}
	var au *audioClip
	if o.Audio != AudioNone {
		if au, err = loadAudio(ctx, o.Audio); err != nil {
			return nil, err
		}
	}

	c := &Camera{
		o:         o,
		log:       log,
		key:       key,
		clip:      cl,
		audio:     au,
		streams:   make(map[string]*gortsplib.ServerStream, len(o.Paths)),
		conns:     make(map[*gortsplib.ServerConn]struct{}),
		sessions:  make(map[*gortsplib.ServerSession]struct{}),
		playing:   make(map[*gortsplib.ServerSession]struct{}),
		pathIndex: make(map[string]int, len(o.Paths)),
		pviews:    make([]*pathView, len(o.Paths)),
		viewKick:  make(chan struct{}, 1),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
	}
	for i, p := range o.Paths {
		c.pathIndex[p] = i
	}
	if err := c.listenAndServe(); err != nil {
		return nil, err
	}

	for _, p := range o.Paths {
		medias := []*description.Media{{
			Type:    description.MediaTypeVideo,
			Formats: []format.Format{videoFormat(o.Codec, cl)},
		}}
		if au != nil {
			medias = append(medias, &description.Media{
				Type:    description.MediaTypeAudio,
				Formats: []format.Format{au.format()},
			})
		}
		st := &gortsplib.ServerStream{
			Server: c.server,
			Desc:   &description.Session{Medias: medias},
		}
		if err := st.Initialize(); err != nil {
			c.closeStreams()
			close(c.ready)
			c.server.Close()
			return nil, fmt.Errorf("fakecam: stream %q: %w", p, err)
		}
		c.streams[p] = st
		c.order = append(c.order, st)
	}
	close(c.ready)

	c.wg.Add(1)
	go c.pace()
	bg, cancel := context.WithCancel(context.Background())
	c.bgCancel = cancel
	c.wg.Add(1)
	go c.viewWorker(bg)
	if o.DropEvery > 0 {
		c.wg.Add(1)
		go c.dropper()
	}
	log.Info("fake camera serving", "addr", c.Addr(), "paths", strings.Join(o.Paths, ","),
		"codec", o.Codec, "audio", o.Audio,
		"size", fmt.Sprintf("%dx%d", o.Width, o.Height), "fps", o.FPS, "bitrate", o.Bitrate,
		"gop", o.GOP, "auth", o.User != "", "drop_every", o.DropEvery,
		"udp_rtp", c.udpRTP, "udp_rtcp", c.udpRTCP)
	return c, nil
}

func (o *Options) defaults() error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if len(o.Paths) == 0 {
		o.Paths = []string{"cam1"}
	}
	seen := make(map[string]bool, len(o.Paths))
	paths := make([]string, 0, len(o.Paths))
	for _, p := range o.Paths {
		p = strings.Trim(p, "/")
		if p == "" || strings.ContainsAny(p, "?# ") {
			return fmt.Errorf("fakecam: invalid path %q", p)
		}
		if seen[p] {
			return fmt.Errorf("fakecam: duplicate path %q", p)
		}
		seen[p] = true
		paths = append(paths, p)
	}
	o.Paths = paths
	if o.Pass != "" && o.User == "" {
		return errors.New("fakecam: Pass without User (RTSP auth needs a user name)")
	}
	if o.Width == 0 {
		o.Width = 640
	}
	if o.Height == 0 {
		o.Height = 360
	}
	if o.Width < 16 || o.Height < 16 || o.Width%2 != 0 || o.Height%2 != 0 || o.Width > 7680 || o.Height > 4320 {
		return fmt.Errorf("fakecam: size %dx%d: width and height must be even, 16..7680 x 16..4320", o.Width, o.Height)
	}
	if o.FPS == 0 {
		o.FPS = 25
	}
	if o.FPS < 1 || o.FPS > 120 {
		return fmt.Errorf("fakecam: fps %d out of 1..120", o.FPS)
	}
	if o.Bitrate == 0 {
		o.Bitrate = 2_000_000
	}
	if o.Bitrate < 10_000 {
		return fmt.Errorf("fakecam: bitrate %d too low (bits/s)", o.Bitrate)
	}
	if o.GOP == 0 {
		o.GOP = o.FPS
	}
	if o.GOP < 1 {
		return fmt.Errorf("fakecam: gop %d must be positive", o.GOP)
	}
	if o.DropEvery < 0 {
		return fmt.Errorf("fakecam: negative DropEvery")
	}
	switch o.Codec = strings.ToLower(o.Codec); o.Codec {
	case "":
		o.Codec = CodecH264
	case CodecH264, CodecH265:
	default:
		return fmt.Errorf("fakecam: codec %q: want %s or %s", o.Codec, CodecH264, CodecH265)
	}
	switch o.Audio = strings.ToLower(o.Audio); o.Audio {
	case "":
		o.Audio = AudioNone
	case AudioNone, AudioAAC, AudioPCMA, AudioPCMU, AudioOpus:
	default:
		return fmt.Errorf("fakecam: audio %q: want %s, %s, %s, %s or %s",
			o.Audio, AudioNone, AudioAAC, AudioPCMA, AudioPCMU, AudioOpus)
	}
	return nil
}

// listenAndServe binds the TCP listener and a free even/odd UDP port pair on
// the same host itself (no race between choosing and binding), then hands
// them to gortsplib through its Listen/ListenPacket hooks.
func (c *Camera) listenAndServe() error {
	ln, err := net.Listen("tcp", c.o.Listen)
	if err != nil {
		return fmt.Errorf("fakecam: listen %s: %w", c.o.Listen, err)
	}
	c.addr = ln.Addr().(*net.TCPAddr)
	udpHost := ""
	if !c.addr.IP.IsUnspecified() {
		udpHost = c.addr.IP.String()
	}
	rtp, rtcp, err := udpPair(udpHost)
	if err != nil {
		ln.Close()
		return fmt.Errorf("fakecam: UDP ports: %w", err)
	}
	c.udpRTP = rtp.LocalAddr().(*net.UDPAddr).Port
	c.udpRTCP = rtcp.LocalAddr().(*net.UDPAddr).Port
	rtpAddr := net.JoinHostPort(udpHost, strconv.Itoa(c.udpRTP))
	rtcpAddr := net.JoinHostPort(udpHost, strconv.Itoa(c.udpRTCP))

	c.server = &gortsplib.Server{
		Handler:        &handler{c: c},
		RTSPAddress:    c.addr.String(),
		UDPRTPAddress:  rtpAddr,
		UDPRTCPAddress: rtcpAddr,
		Listen: func(string, string) (net.Listener, error) {
			return ln, nil
		},
		ListenPacket: func(_, address string) (net.PacketConn, error) {
			switch address {
			case rtpAddr:
				return rtp, nil
			case rtcpAddr:
				return rtcp, nil
			}
			return nil, fmt.Errorf("fakecam: unexpected UDP listen %s", address)
		},
	}
	if err := c.server.Start(); err != nil {
		ln.Close()
		rtp.Close()
		rtcp.Close()
		return fmt.Errorf("fakecam: RTSP server: %w", err)
	}
	return nil
}

// udpPair binds two consecutive UDP ports, the first even (RTP), the second
// odd (RTCP), as RTSP requires.
func udpPair(host string) (rtp, rtcp net.PacketConn, err error) {
	for range 200 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 == 0 && p < 65535 {
			b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p+1)))
			if err == nil {
				return a, b, nil
			}
		} else if p%2 == 1 {
			b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p-1)))
			if err == nil {
				return b, a, nil
			}
		}
		a.Close()
	}
	return nil, nil, errors.New("no free consecutive UDP port pair found")
}

// Addr is the host:port the RTSP server is bound to.
func (c *Camera) Addr() string { return c.addr.String() }

// URL is the address of path, with credentials when the camera has them:
// rtsp://[user:pass@]host:port/path. An unspecified listen host (":8554")
// becomes 127.0.0.1.
func (c *Camera) URL(path string) string {
	u := c.plainURL(path)
	if c.o.User != "" {
		u.User = url.UserPassword(c.o.User, c.o.Pass)
	}
	return u.String()
}

// StreamURI is path's address without credentials, as a camera publishes
// it (ONVIF GetStreamUri): a client adds its own.
func (c *Camera) StreamURI(path string) string {
	u := c.plainURL(path)
	return u.String()
}

func (c *Camera) plainURL(path string) url.URL {
	host := c.addr.IP.String()
	if c.addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return url.URL{
		Scheme: "rtsp",
		Host:   net.JoinHostPort(host, strconv.Itoa(c.addr.Port)),
		Path:   "/" + strings.Trim(path, "/"),
	}
}

// Paths are the served paths, without slashes.
func (c *Camera) Paths() []string { return append([]string(nil), c.o.Paths...) }

// Readers is the number of sessions currently playing.
func (c *Camera) Readers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.playing)
}

// Close stops the camera: readers are disconnected, ports released. It is
// safe to call more than once.
func (c *Camera) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.bgCancel()
		c.wg.Wait()
		c.closeStreams()
		c.server.Close()
		c.log.Info("fake camera closed", "addr", c.Addr())
	})
}

func (c *Camera) closeStreams() {
	for _, st := range c.order {
		st.Close()
	}
}

// pace writes one access unit per 1/FPS of wall-clock time to every stream,
// looping the clip with RTP timestamps that keep increasing across loops,
// and, with audio, one audio frame per frame duration on the same clock:
// video frame n is due at start + n/FPS, audio frame m at start + m frame
// durations, whichever is due first goes first, and both carry their due
// time as NTP time (RTCP sender reports), so readers map the two RTP
// clocks onto one timeline. The audio loop is a whole number of video
// loops (see audioSpec.loopSeconds) and starts with the video's at start.
// Paths without a view share the base clip's RTP packets; a path that
// switches to a view's clip (at one of its IDRs) continues with its own
// RTP encoder from the next sequence number. All paths share the audio
// packets.
func (c *Camera) pace() {
	defer c.wg.Done()
	forma := c.order[0].Desc.Medias[0].Formats[0]
	enc, ssrc, err := newBaseEncoder(forma)
	if err != nil {
		c.log.Error("RTP encoder", "err", err)
		return
	}
	var aenc audioEncoder
	if c.audio != nil {
		if aenc, err = newAudioEncoder(c.order[0].Desc.Medias[1].Formats[0]); err != nil {
			c.log.Error("RTP audio encoder", "err", err)
			return
		}
	}
	ts0, ats0 := randUint32(), randUint32()

	fps := int64(c.o.FPS)
	aus := c.clip.aus
	var (
		shows   []showing // per stream this frame, once there are views
		baseSeq *uint16   // the base encoder's next sequence number, once known
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	start := time.Now()
	var n, m int64 // the next video and audio frames
	for {
		due := start.Add(time.Duration(n) * time.Second / time.Duration(fps))
		audioNext := false
		if c.audio != nil {
			if adue := start.Add(c.audio.at(m)); adue.Before(due) {
				due, audioNext = adue, true
			}
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-c.done:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-c.done:
				return
			default:
			}
			if d < -time.Second {
				// Stalled (suspended machine, debugger): resume at the
				// nominal pace instead of bursting to catch up. RTP time
				// keeps counting frames, so it stays monotonic; audio
				// and video shift alike.
				start, due = start.Add(-d), due.Add(-d)
			}
		}

		if audioNext {
			if !c.writeAudio(aenc, c.audio.rtpTime(ats0, m), c.audio.frames[m%int64(len(c.audio.frames))], due) {
				return
			}
			m++
			continue
		}

		if shows == nil && c.viewsOn.Load() {
			shows = make([]showing, len(c.order))
		}
		if shows != nil {
			if err := c.switchViews(n, forma, ssrc, baseSeq, shows); err != nil {
				c.log.Error("RTP encoder", "err", err)
				return
			}
		}

		var basePkts []*rtp.Packet
		ts := ts0 + uint32(n*90000/fps)
		for i, st := range c.order {
			var pkts []*rtp.Packet
			if shows != nil && shows[i].clip != nil {
				vaus := shows[i].clip.aus
				pkts, err = shows[i].enc.Encode(vaus[n%int64(len(vaus))].nalus)
			} else {
				if basePkts == nil {
					au := aus[n%int64(len(aus))]
					basePkts, err = enc.Encode(au.nalus)
					if err == nil {
						next := basePkts[len(basePkts)-1].SequenceNumber + 1
						baseSeq = &next
					}
				}
				pkts = basePkts
			}
			if err != nil {
				c.log.Error("RTP encode", "err", err)
				return
			}
			medi := st.Desc.Medias[0]
			for _, p := range pkts {
				p.Timestamp = ts
				if err := st.WritePacketRTPWithNTP(medi, p, due); err != nil {
					if errors.Is(err, liberrors.ErrServerStreamClosed{}) {
						return
					}
					c.log.Debug("write RTP", "err", err)
				}
			}
		}
		n++
	}
}

// writeAudio sends one audio frame with RTP time ts to every stream; false
// when the streams are closed or the frame cannot be packetized.
func (c *Camera) writeAudio(enc audioEncoder, ts uint32, frame []byte, ntp time.Time) bool {
	pkts, err := enc(frame)
	if err != nil {
		c.log.Error("RTP audio encode", "err", err)
		return false
	}
	for _, p := range pkts {
		p.Timestamp += ts // the encoder's are relative to the frame
	}
	for _, st := range c.order {
		medi := st.Desc.Medias[1]
		for _, p := range pkts {
			if err := st.WritePacketRTPWithNTP(medi, p, ntp); err != nil {
				if errors.Is(err, liberrors.ErrServerStreamClosed{}) {
					return false
				}
				c.log.Debug("write RTP", "err", err)
			}
		}
	}
	return true
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// showing is what a stream shows in a frame: a view's clip and the
// path's RTP encoder, or nothing (the base clip).
type showing struct {
	clip *clip
	enc  videoEncoder
}

// switchViews moves the paths whose wanted view's clip is ready and has an
// IDR at frame n onto it, and fills shows with every path's clip for this
// frame. A path leaving the base clip gets its own RTP encoder, with the
// base's SSRC, continuing its sequence numbers (baseSeq, nil before the
// first frame).
func (c *Camera) switchViews(n int64, forma format.Format, ssrc uint32, baseSeq *uint16, shows []showing) error {
	c.vmu.Lock()
	defer c.vmu.Unlock()
	for i, pv := range c.pviews {
		if pv == nil {
			continue
		}
		if next := pv.ready; next != nil && next != pv.cur && next.aus[n%int64(len(next.aus))].idr {
			if pv.enc == nil {
				enc, err := newPathEncoder(forma, ssrc, baseSeq)
				if err != nil {
					return err
				}
				pv.enc = enc
			}
			pv.cur, pv.shown, pv.showing = next, pv.want, true
			c.log.Debug("path shows a new view", "path", c.o.Paths[i], "view", pv.want.String())
		}
		shows[i] = showing{pv.cur, pv.enc}
	}
	return nil
}

// dropper closes every connection and session each DropEvery.
func (c *Camera) dropper() {
	defer c.wg.Done()
	t := time.NewTicker(c.o.DropEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.mu.Lock()
		sessions := make([]*gortsplib.ServerSession, 0, len(c.sessions))
		for s := range c.sessions {
			sessions = append(sessions, s)
		}
		conns := make([]*gortsplib.ServerConn, 0, len(c.conns))
		for sc := range c.conns {
			conns = append(conns, sc)
		}
		c.mu.Unlock()
		if len(sessions)+len(conns) > 0 {
			c.log.Info("fault injection: dropping readers", "sessions", len(sessions), "conns", len(conns))
		}
		// Close only cancels; gortsplib tears down asynchronously.
		for _, s := range sessions {
			s.Close()
		}
		for _, sc := range conns {
			sc.Close()
		}
	}
}

// handler implements the gortsplib.ServerHandler* interfaces.
type handler struct{ c *Camera }

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.c.mu.Lock()
	h.c.conns[ctx.Conn] = struct{}{}
	h.c.mu.Unlock()
	h.c.log.Debug("conn opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.c.mu.Lock()
	delete(h.c.conns, ctx.Conn)
	h.c.mu.Unlock()
	h.c.log.Debug("conn closed", "remote", ctx.Conn.NetConn().RemoteAddr().String(), "err", ctx.Error)
}

func (h *handler) OnSessionOpen(ctx *gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.c.mu.Lock()
	h.c.sessions[ctx.Session] = struct{}{}
	h.c.mu.Unlock()
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.c.mu.Lock()
	delete(h.c.sessions, ctx.Session)
	delete(h.c.playing, ctx.Session)
	h.c.mu.Unlock()
	h.c.log.Debug("session closed", "path", ctx.Session.Path(), "err", ctx.Error)
}

// authorize checks credentials when the camera has them. It returns nil
// when the request may proceed, else the 401 to answer.
func (h *handler) authorize(sc *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	if h.c.o.User == "" {
		return nil, nil
	}
	if sc.VerifyCredentials(req, h.c.o.User, h.c.o.Pass) {
		return nil, nil
	}
	// The response carries WWW-Authenticate when no credentials were sent;
	// gortsplib closes the connection when wrong ones were.
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

func (h *handler) stream(path string) *gortsplib.ServerStream {
	<-h.c.ready
	return h.c.streams[strings.Trim(path, "/")]
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	st := h.stream(ctx.Path)
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		// never reached: ANNOUNCE is not implemented, so nobody records.
		return &base.Response{StatusCode: base.StatusBadRequest}, nil, nil
	}
	st := h.stream(ctx.Path)
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// OnPlay needs no credential check: the session was set up by DESCRIBE and
// SETUP, which both checked them (as in gortsplib's server-auth example).
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.c.mu.Lock()
	if _, open := h.c.sessions[ctx.Session]; open {
		h.c.playing[ctx.Session] = struct{}{}
	}
	h.c.mu.Unlock()
	h.c.log.Debug("reader playing", "path", ctx.Path, "remote", ctx.Conn.NetConn().RemoteAddr().String(),
		"transport", transportName(ctx.Session))
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnPause(ctx *gortsplib.ServerHandlerOnPauseCtx) (*base.Response, error) {
	h.c.mu.Lock()
	delete(h.c.playing, ctx.Session)
	h.c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.c.log.Debug("stream write error", "path", ctx.Session.Path(), "err", ctx.Error)
}

func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.c.log.Debug("decode error", "err", ctx.Error)
}

func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.c.log.Debug("packets lost", "lost", ctx.Lost)
}

func transportName(s *gortsplib.ServerSession) string {
	if t := s.Transport(); t != nil {
		return t.Protocol.String()
	}
	return ""
}

// ViewSetter adapts SetView to a PTZ service's hook (onvifsrv.Options.OnView):
// pathOf maps its profile tokens to paths, so a camera's PTZ and motion
// show in the picture.
func (c *Camera) ViewSetter(pathOf map[string]string) func(profile string, pan, tilt, zoom float64, motion bool) {
	return func(profile string, pan, tilt, zoom float64, motion bool) {
		if p, ok := pathOf[profile]; ok {
			c.SetView(p, View{Pan: pan, Tilt: tilt, Zoom: zoom, Motion: motion})
		}
	}
}

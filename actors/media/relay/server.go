// Package relay is the media plane of a node: one RTSP server (gortsplib)
// that serves the node's live streams at /live/<device>/<channel>, and the
// per-stream fan-out (Stream) that takes one camera pull to any number of
// RTSP readers, HLS and access-unit subscribers (recorders).
//
// A reader's DESCRIBE or SETUP goes to Config.Authorize (the URL's query
// string, e.g. ?token=…) and then to Config.Open (start or find the pull);
// the answer waits until the stream has a keyframe. Readers joining a hot
// stream first get the cached packets since the last IDR, so they decode
// at once. A stream hosted by another node (Config.Redirect) is answered
// with a 302 to that node instead.
package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
)

// Defaults of Config.
const (
	DefaultRTSPAddress    = ":8554"
	DefaultUDPRTPAddress  = ":8000"
	DefaultUDPRTCPAddress = ":8001"
	// DefaultReadyTimeout bounds how long DESCRIBE/SETUP wait for Open and
	// a keyframe before answering 503.
	DefaultReadyTimeout = 10 * time.Second
)

// Config of a Server.
type Config struct {
	// RTSPAddress is the TCP listen address, default ":8554". Port 0 picks
	// a free port (see Server.RTSPAddr).
	RTSPAddress string
	// RTSPSAddress, when set, also serves RTSP over TLS there with TLS
	// (see rtsps.go; Server.RTSPSAddr).
	RTSPSAddress string
	TLS          *tls.Config
	// UDPRTPAddress and UDPRTCPAddress serve readers that ask for UDP;
	// default ":8000" and ":8001". The RTP port must be even and the RTCP
	// port the next one; both ports 0 pick a free pair. "off" for both
	// disables UDP (TCP only).
	UDPRTPAddress, UDPRTCPAddress string
	// Authorize checks a reader's request (query of the RTSP URL) and says
	// how long the session may last (Grant). An error answers 401 and Open
	// is not called. Required.
	Authorize func(k Key, query url.Values) (Grant, error)
	// Open returns the stream of k, starting its pull if needed; it may
	// block until the stream has a keyframe (up to ctx). An error wrapping
	// ErrNotFound answers 404, any other 503. Required.
	Open func(ctx context.Context, k Key) (*Stream, error)
	// Redirect, when set and ok, says another node hosts k: a DESCRIBE (or
	// a SETUP without one) is answered 302 with Location base + the
	// request's own path and query, without Authorize or Open, so the
	// owner alone decides. base is like "rtsp://10.0.0.2:8554". Optional.
	Redirect func(k Key) (base string, ok bool)
	// Publish, when set, authorizes a publisher's ANNOUNCE of a rendition
	// (publish.go) and returns the stream it feeds; an error answers 401,
	// one wrapping ErrNotFound 404. nil: nobody publishes here.
	Publish func(k Key, query url.Values) (*Stream, error)
	// Viewed, when set, is told of every reader session that played, as
	// it ends (the viewing audit).
	Viewed func(View)
	// ReadyTimeout bounds Open plus the wait for a keyframe; default 10 s.
	ReadyTimeout time.Duration
	// NoGOPReplay disables sending the cached GOP to readers joining a hot
	// stream (they then start at the next IDR).
	NoGOPReplay bool
	// Log receives the server's events; nil discards them.
	Log *slog.Logger
}

// Server is a node's RTSP server for the relayed streams.
type Server struct {
	cfg     Config
	log     *slog.Logger
	rtsp    *gortsplib.Server
	addr    string
	tlsAddr string // RTSPS, "" when off

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	streams map[*Stream]struct{} // bound streams
	joins   sync.Map             // *gortsplib.ServerConn → *join, between OnPlay and the response
	grants  sessionGrants        // of the reader sessions, ended when they lapse
}

// NewServer checks cfg and prepares a server; Start binds the ports.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Authorize == nil {
		return nil, errors.New("relay: Config.Authorize is required")
	}
	if cfg.Open == nil {
		return nil, errors.New("relay: Config.Open is required")
	}
	if cfg.RTSPAddress == "" {
		cfg.RTSPAddress = DefaultRTSPAddress
	}
	if cfg.UDPRTPAddress == "" && cfg.UDPRTCPAddress == "" {
		cfg.UDPRTPAddress, cfg.UDPRTCPAddress = DefaultUDPRTPAddress, DefaultUDPRTCPAddress
	}
	if (cfg.UDPRTPAddress == "off") != (cfg.UDPRTCPAddress == "off") {
		return nil, errors.New(`relay: set both UDP addresses to "off" to disable UDP`)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if (cfg.RTSPSAddress != "") != (cfg.TLS != nil) {
		return nil, errors.New("relay: RTSPS needs both an address and a TLS config")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		log:     log.With("component", "relay"),
		streams: make(map[*Stream]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start binds the RTSP (TCP) and UDP ports and starts serving.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("relay: server already started")
	}
	var ln net.Listener
	ln, err := net.Listen("tcp", s.cfg.RTSPAddress)
	if err != nil {
		return fmt.Errorf("relay: listen %s: %w", s.cfg.RTSPAddress, err)
	}
	s.addr = ln.Addr().String()
	if s.cfg.RTSPSAddress != "" {
		tln, err := net.Listen("tcp", s.cfg.RTSPSAddress)
		if err != nil {
			ln.Close()
			return fmt.Errorf("relay: listen %s (RTSPS): %w", s.cfg.RTSPSAddress, err)
		}
		s.tlsAddr = tln.Addr().String()
		ln = mergeListeners(ln, tls.NewListener(tln, s.cfg.TLS))
	}

	srv := &gortsplib.Server{
		Handler:      &handler{s: s},
		RTSPAddress:  s.addr,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		// Room for the cached GOP a joining reader gets before its writer
		// starts (maxGOPPackets) plus live packets.
		WriteQueueSize: 2048,
		Listen: func(string, string) (net.Listener, error) {
			return ln, nil
		},
	}
	if s.cfg.UDPRTPAddress != "off" {
		rtpAddr, rtcpAddr := s.cfg.UDPRTPAddress, s.cfg.UDPRTCPAddress
		if portOf(rtpAddr) == "0" && portOf(rtcpAddr) == "0" {
			host, _, _ := net.SplitHostPort(rtpAddr)
			rtp, rtcp, err := udpPair(host)
			if err != nil {
				ln.Close()
				return fmt.Errorf("relay: UDP ports: %w", err)
			}
			rtpAddr = net.JoinHostPort(host, strconv.Itoa(rtp.LocalAddr().(*net.UDPAddr).Port))
			rtcpAddr = net.JoinHostPort(host, strconv.Itoa(rtcp.LocalAddr().(*net.UDPAddr).Port))
			srv.ListenPacket = func(network, address string) (net.PacketConn, error) {
				switch address {
				case rtpAddr:
					return rtp, nil
				case rtcpAddr:
					return rtcp, nil
				}
				return net.ListenPacket(network, address)
			}
		}
		srv.UDPRTPAddress, srv.UDPRTCPAddress = rtpAddr, rtcpAddr
	}
	if err := srv.Start(); err != nil {
		ln.Close()
		return fmt.Errorf("relay: RTSP server: %w", err)
	}
	s.rtsp = srv
	s.started = true
	go s.endLapsedSessions()
	s.log.Info("RTSP relay listening", "addr", s.addr, "udp_rtp", srv.UDPRTPAddress, "udp_rtcp", srv.UDPRTCPAddress)
	return nil
}

// RTSPAddr is the bound TCP address (host:port), after Start.
func (s *Server) RTSPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// RTSPSAddr is the bound RTSPS address (host:port), after Start ("" when off).
func (s *Server) RTSPSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsAddr
}

// UDPAddrs are the UDP RTP and RTCP addresses, after Start ("" when UDP
// is off).
func (s *Server) UDPAddrs() (rtp, rtcp string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rtsp == nil {
		return "", ""
	}
	return s.rtsp.UDPRTPAddress, s.rtsp.UDPRTCPAddress
}

// Close stops the server: every RTSP reader is disconnected; the streams
// stay usable (HLS, subscribers) and can be served again by another Server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	streams := make([]*Stream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	s.streams = map[*Stream]struct{}{}
	srv := s.rtsp
	s.mu.Unlock()
	for _, st := range streams {
		st.unbind(s)
	}
	if srv != nil {
		srv.Close()
	}
}

func (s *Server) remember(st *Stream) {
	s.mu.Lock()
	if !s.closed {
		s.streams[st] = struct{}{}
	}
	s.mu.Unlock()
}

// Readers is the number of readers of the streams bound to the server
// (a node's load, for the live API's choice of node).
func (s *Server) Readers() int {
	s.mu.Lock()
	streams := make([]*Stream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	n := 0
	for _, st := range streams {
		n += st.Readers()
	}
	return n
}

func (s *Server) forget(st *Stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

// open authorizes a request for path?query, then opens its stream and
// waits until it is ready. The returned response is nil on success.
func (s *Server) open(path, rawQuery string) (*Stream, *gortsplib.ServerStream, Grant, *base.Response, error) {
	var g Grant
	k, ok := ParsePath(path)
	if !ok {
		return nil, nil, g, &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("no stream at %q", path)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, g, &base.Response{StatusCode: base.StatusBadRequest}, fmt.Errorf("bad query: %w", err)
	}
	if k, ok = k.Rendition(q.Get(CodecQuery)); !ok {
		return nil, nil, g, &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("no rendition %q of %s", q.Get(CodecQuery), k)
	}
	if g, err = s.cfg.Authorize(k, q); err != nil {
		return nil, nil, g, &base.Response{StatusCode: base.StatusUnauthorized}, fmt.Errorf("%s: unauthorized: %w", k, err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ReadyTimeout)
	defer cancel()
	st, err := s.cfg.Open(ctx, k)
	if err != nil {
		code := base.StatusServiceUnavailable
		if errors.Is(err, ErrNotFound) {
			code = base.StatusNotFound
		}
		return nil, nil, g, &base.Response{StatusCode: code}, fmt.Errorf("%s: open: %w", k, err)
	}
	if st == nil {
		return nil, nil, g, &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("%s: open returned no stream", k)
	}
	if err := st.WaitReady(ctx); err != nil {
		return nil, nil, g, &base.Response{StatusCode: base.StatusServiceUnavailable}, fmt.Errorf("%s: not ready: %w", k, err)
	}
	ss, err := st.bind(s)
	if err != nil || ss == nil {
		return nil, nil, g, &base.Response{StatusCode: base.StatusServiceUnavailable}, fmt.Errorf("%s: no RTSP stream (%v)", k, err)
	}
	return st, ss, g, nil, nil
}

// EdgeQuery is the query parameter (edge=1) of a reader asking this node
// to serve a stream another node hosts, as an edge relay: the request is
// not redirected and Config.Open gives the node's edge stream.
const EdgeQuery = "edge"

// IsEdge reports whether a query asks for edge serving.
func IsEdge(q url.Values) bool { return q.Get(EdgeQuery) == "1" }

// redirect is the 302 answer for a request on a stream hosted elsewhere,
// or nil when it is served here (hosted here, or asked of an edge).
func (s *Server) redirect(path, rawQuery string, u *base.URL) *base.Response {
	if s.cfg.Redirect == nil {
		return nil
	}
	if q, err := url.ParseQuery(rawQuery); err == nil && IsEdge(q) {
		return nil
	}
	k, ok := ParsePath(path)
	if !ok {
		return nil // 404 from open, as before
	}
	owner, ok := s.cfg.Redirect(k)
	if !ok {
		return nil
	}
	if owner == "" {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}
	}
	// The request's own path and query: a SETUP keeps its track suffix
	// (ffmpeg puts "/trackID=n" after the query).
	loc := strings.TrimSuffix(owner, "/") + (*url.URL)(u).EscapedPath()
	if u.RawQuery != "" {
		loc += "?" + u.RawQuery
	}
	// ffmpeg and gortsplib follow any 3xx with a Location; 302 because
	// ownership moves.
	return &base.Response{
		StatusCode: base.StatusFound,
		Header:     base.Header{"Location": base.HeaderValue{loc}},
	}
}

// sessionData is kept on each reader session.
type sessionData struct {
	key     Key
	st      *Stream
	grant   Grant
	client  string
	playing bool      // counted as a reader
	since   time.Time // first PLAY
}

// View is one reader session that played.
type View struct {
	Key        Key
	Viewer     string // Grant.Viewer
	Client     string // the reader's address
	Start, End time.Time
	Bytes      uint64 // sent to the reader
}

// connData is kept on each connection: the stream of its last DESCRIBE,
// so the SETUP that follows does not call Open again.
type connData struct {
	path, query string
	st          *Stream
	grant       Grant
}

// handler implements the gortsplib.ServerHandler* interfaces.
type handler struct{ s *Server }

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.log.Debug("conn opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.joins.Delete(ctx.Conn)
	h.s.log.Debug("conn closed", "remote", ctx.Conn.NetConn().RemoteAddr().String(), "err", ctx.Error)
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.s.grants.drop(ctx.Session)
	if publisherGone(h, ctx.Session) {
		return
	}
	sd, _ := ctx.Session.UserData().(*sessionData)
	if sd == nil {
		return
	}
	if sd.playing {
		sd.playing = false
		sd.st.changeReaders(func() { sd.st.rtspReaders-- })
	}
	if !sd.since.IsZero() && h.s.cfg.Viewed != nil {
		h.s.cfg.Viewed(View{Key: sd.key, Viewer: sd.grant.Viewer, Client: sd.client, Start: sd.since, End: time.Now(),
			Bytes: ctx.Session.Stats().OutboundBytes})
	}
	h.s.log.Debug("reader left", "stream", sd.key.String(), "err", ctx.Error)
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res := h.s.redirect(ctx.Path, ctx.Query, ctx.Request.URL); res != nil {
		h.s.log.Debug("DESCRIBE redirected", "path", ctx.Path, "location", res.Header["Location"],
			"remote", ctx.Conn.NetConn().RemoteAddr().String())
		return res, nil, nil
	}
	st, ss, grant, res, err := h.s.open(ctx.Path, ctx.Query)
	if res != nil {
		h.s.log.Info("DESCRIBE refused", "path", ctx.Path, "status", int(res.StatusCode), "err", err,
			"remote", ctx.Conn.NetConn().RemoteAddr().String())
		return res, nil, err
	}
	ctx.Conn.SetUserData(&connData{path: ctx.Path, query: ctx.Query, st: st, grant: grant})
	return &base.Response{StatusCode: base.StatusOK}, ss, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		// a publisher's track (publish.go): ANNOUNCE authorized it
		if pd, _ := ctx.Session.UserData().(*publisherData); pd == nil {
			return &base.Response{StatusCode: base.StatusBadRequest}, nil, errors.New("SETUP to record without ANNOUNCE")
		}
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	if isTLS(ctx.Conn.NetConn()) && ctx.Transport != nil && ctx.Transport.Protocol != gortsplib.ProtocolTCP {
		// media in clear beside a TLS control connection
		return &base.Response{StatusCode: base.StatusUnsupportedTransport}, nil, errors.New("RTSPS: only interleaved TCP")
	}
	// a further SETUP of the same session (another track)
	if sd, _ := ctx.Session.UserData().(*sessionData); sd != nil {
		if k, ok := ParseRequest(ctx.Path, ctx.Query); !ok || k != sd.key {
			return &base.Response{StatusCode: base.StatusBadRequest}, nil, errors.New("SETUP of another stream in the same session")
		}
		ss := sd.st.serverStream()
		if ss == nil || ss != ctx.Session.Stream() {
			// the source changed its description meanwhile
			return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, errors.New("stream replaced during setup")
		}
		return &base.Response{StatusCode: base.StatusOK}, ss, nil
	}

	var st *Stream
	var ss *gortsplib.ServerStream
	var grant Grant
	if cd, _ := ctx.Conn.UserData().(*connData); cd != nil && cd.path == ctx.Path && cd.query == ctx.Query {
		// DESCRIBE on this connection authorized and opened it already
		ss = cd.st.serverStream()
		if ss != nil {
			st, grant = cd.st, cd.grant
		}
	}
	if st == nil {
		if res := h.s.redirect(ctx.Path, ctx.Query, ctx.Request.URL); res != nil {
			h.s.log.Debug("SETUP redirected", "path", ctx.Path, "location", res.Header["Location"],
				"remote", ctx.Conn.NetConn().RemoteAddr().String())
			return res, nil, nil
		}
		var res *base.Response
		var err error
		st, ss, grant, res, err = h.s.open(ctx.Path, ctx.Query)
		if res != nil {
			h.s.log.Info("SETUP refused", "path", ctx.Path, "status", int(res.StatusCode), "err", err,
				"remote", ctx.Conn.NetConn().RemoteAddr().String())
			return res, nil, err
		}
	}
	k, _ := ParseRequest(ctx.Path, ctx.Query)
	ctx.Session.SetUserData(&sessionData{key: k, st: st, grant: grant, client: ctx.Conn.NetConn().RemoteAddr().String()})
	h.s.grants.set(ctx.Session, grant)
	return &base.Response{StatusCode: base.StatusOK}, ss, nil
}

// OnPlay needs no new authorization: the session was authorized at SETUP
// and gortsplib refuses a PLAY on another path.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	sd, _ := ctx.Session.UserData().(*sessionData)
	if sd == nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, errors.New("PLAY without SETUP")
	}
	if ctx.Session.State() == gortsplib.ServerSessionStatePlay {
		return &base.Response{StatusCode: base.StatusOK}, nil
	}
	// Count the reader first: the callback must not run while the write
	// path is held for the join below.
	if !sd.playing {
		sd.playing = true
		sd.st.changeReaders(func() { sd.st.rtspReaders++ })
	}
	if sd.since.IsZero() {
		sd.since = time.Now()
	}
	j := sd.st.beginJoin(ctx.Session, !h.s.cfg.NoGOPReplay)
	if j == nil {
		sd.playing = false
		sd.st.changeReaders(func() { sd.st.rtspReaders-- })
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, errors.New("stream replaced before PLAY")
	}
	// The write path stays locked until the PLAY response is on its way
	// (OnResponse): gortsplib activates the session after OnPlay returns,
	// and no live packet may reach the stream before that. A timer
	// releases it even if no response comes.
	h.s.joins.Store(ctx.Conn, j)
	time.AfterFunc(2*time.Second, j.release)
	h.s.log.Debug("reader playing", "stream", sd.key.String(), "transport", transportName(ctx.Session),
		"replayed_tracks", len(j.first), "remote", ctx.Conn.NetConn().RemoteAddr().String())
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnResponse runs just before a response is written: for the PLAY of a
// joining reader it points RTP-Info at the first cached packet sent and
// releases the write path.
func (h *handler) OnResponse(sc *gortsplib.ServerConn, res *base.Response) {
	v, ok := h.s.joins.LoadAndDelete(sc)
	if !ok {
		return
	}
	j := v.(*join)
	defer j.release()
	if res.StatusCode != base.StatusOK || len(j.first) == 0 {
		return
	}
	var ri headers.RTPInfo
	if err := ri.Unmarshal(res.Header["RTP-Info"]); err != nil {
		return
	}
	for _, e := range ri {
		i := strings.LastIndex(e.URL, "/trackID=")
		if i < 0 {
			continue
		}
		track, err := strconv.Atoi(e.URL[i+len("/trackID="):])
		if err != nil {
			continue
		}
		if f, ok := j.first[track]; ok {
			seq, ts := f.seq, f.ts
			e.SequenceNumber = &seq
			e.Timestamp = &ts
		}
	}
	res.Header["RTP-Info"] = ri.Marshal()
}

func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.log.Debug("reader write error", "path", ctx.Session.Path(), "err", ctx.Error)
}

func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.s.log.Debug("decode error", "err", ctx.Error)
}

func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.s.log.Debug("packets lost", "lost", ctx.Lost)
}

func transportName(s *gortsplib.ServerSession) string {
	if t := s.Transport(); t != nil {
		return t.Protocol.String()
	}
	return ""
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

// udpPair binds two consecutive UDP ports on host, the first even (RTP),
// as RTSP requires.
func udpPair(host string) (rtp, rtcp net.PacketConn, err error) {
	for range 200 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 == 0 && p < 65535 {
			if b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p+1))); err == nil {
				return a, b, nil
			}
		} else if p%2 == 1 {
			if b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p-1))); err == nil {
				return b, a, nil
			}
		}
		a.Close()
	}
	return nil, nil, errors.New("no free consecutive UDP port pair")
}

// Package onvifsrv is fakecam's ONVIF service: a camera's device, media,
// PTZ and event services (SOAP 1.2 over HTTP, WS-Security UsernameToken)
// and WS-Discovery, in front of the RTSP streams fakecam serves. It is a
// test peer for Argus's ONVIF client: strict where real cameras are
// (authentication, clock skew, faults), with knobs for their quirks
// (HTTP 401, clock offset, restarts that lose subscriptions).
package onvifsrv

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Paths of the services; any of them answers any operation.
const (
	devicePath       = "/onvif/device_service"
	mediaPath        = "/onvif/media_service"
	ptzPath          = "/onvif/ptz_service"
	eventsPath       = "/onvif/events_service"
	subscriptionPath = "/onvif/subscription/"
	snapshotPath     = "/onvif/snapshot/"
)

// Server is a running ONVIF service. Close it when done.
type Server struct {
	o        Options // with defaults
	log      *slog.Logger
	chans    []*channel
	byToken  map[string]*channel // profile token → channel
	endpoint string              // urn:uuid:…, stable for the same identity
	ptz      *ptzHead            // nil without PTZ
	auth     *authenticator      // nil without Username
	started  time.Time           // for snapshots' Last-Modified

	mu       sync.Mutex
	run      *run   // nil once closed
	httpAddr string // bound address, set at the first boot
	discAddr string // bound unicast discovery address, set at the first boot
	base     string // http://host:port, set at the first boot

	// views reports to OnView; its kick channel exists with or without
	// OnView (the PTZ head and the hubs signal it).
	views viewReporter
}

// channel is one profile with the tokens of its video source and
// configurations.
type channel struct {
	Profile
	sourceToken     string // VideoSource_<n>
	sourceConfToken string // VideoSourceConfig_<n>
	encoderToken    string // VideoEncoderConfig_<n>
	snapshot        []byte // JPEG of Width x Height
}

// run is one boot of the camera: what a restart loses.
type run struct {
	ctx    context.Context
	cancel context.CancelFunc
	http   *http.Server
	udp    []*net.UDPConn
	events *hub
	disc   *discoverer
	wg     sync.WaitGroup
}

// Start checks o, renders the snapshots (ffmpeg, cached), binds the ports
// and serves. ctx bounds the start-up only. Starting again with the same
// Listen after Close (or with Server.Options) brings the same camera back.
func Start(ctx context.Context, o Options) (*Server, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		o:        o,
		log:      log.With("component", "onvifsrv"),
		byToken:  map[string]*channel{},
		endpoint: endpointUUID(o.Manufacturer, o.Model, o.Serial),
		started:  time.Now(),
	}
	for i, p := range o.Profiles {
		n := strconv.Itoa(i + 1)
		ch := &channel{
			Profile:         p,
			sourceToken:     "VideoSource_" + n,
			sourceConfToken: "VideoSourceConfig_" + n,
			encoderToken:    "VideoEncoderConfig_" + n,
		}
		jpg, err := loadSnapshot(ctx, p.Width, p.Height)
		if err != nil {
			return nil, err
		}
		ch.snapshot = jpg
		s.chans = append(s.chans, ch)
		s.byToken[p.Token] = ch
	}
	s.views.kick = make(chan struct{}, 1)
	if o.PTZ {
		s.ptz = newPTZHead(time.Now)
		s.ptz.changed = s.views.signal
	}
	if o.Username != "" {
		s.auth = newAuthenticator(o.Username, o.Password, s.cameraNow)
	}
	r, err := s.boot(o.Listen, o.DiscoveryListen)
	if err != nil {
		return nil, err
	}
	s.run = r
	s.log.Info("onvif camera serving", "device", s.DeviceURL(), "discovery", s.DiscoveryAddr(),
		"profiles", len(s.chans), "ptz", o.PTZ, "auth", o.Username != "", "user", o.Username,
		"clock_offset", o.ClockOffset, "motion_every", o.MotionEvery)
	return s, nil
}

// boot binds the ports and starts one run.
func (s *Server) boot(httpListen, discListen string) (*run, error) {
	ln, err := net.Listen("tcp", httpListen)
	if err != nil {
		return nil, fmt.Errorf("onvifsrv: listen %s: %w", httpListen, err)
	}
	if s.base == "" {
		// First boot. A restart binds the same address, and handlers read
		// base without the lock: it is never written again.
		s.httpAddr = ln.Addr().String()
		s.base = "http://" + reachable(ln.Addr().(*net.TCPAddr))
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := &run{ctx: ctx, cancel: cancel}
	r.events = newHub(s.cameraNow, s.sourceConfTokens())
	r.events.changed = s.views.signal
	r.http = &http.Server{
		Handler:           s.routes(r),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      maxPullTimeout + 30*time.Second, // a long poll writes late
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if s.o.Discovery {
		if err := s.listenDiscovery(r, discListen); err != nil {
			ln.Close()
			cancel()
			return nil, err
		}
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http serve", "err", err)
		}
	}()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.events.janitor(ctx)
	}()
	if s.o.MotionEvery > 0 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.motionLoop(ctx, r.events)
		}()
	}
	if s.o.OnView != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.viewLoop(ctx, r.events)
		}()
	}
	return r, nil
}

// halt ends a run: connections are cut, pending pulls end, subscriptions
// are forgotten.
func (r *run) halt() {
	r.http.Close() // first: pending answers then go nowhere, as in a reboot
	r.cancel()
	for _, c := range r.udp {
		c.Close()
	}
	r.events.closeAll()
	r.wg.Wait()
}

// routes serves the SOAP services (any path of them answers any
// operation), the subscription managers and the snapshots.
func (s *Server) routes(r *run) http.Handler {
	mux := http.NewServeMux()
	soap := func(w http.ResponseWriter, req *http.Request) { s.serveSOAP(r, w, req, "") }
	for _, p := range []string{devicePath, mediaPath, ptzPath, eventsPath} {
		mux.HandleFunc("POST "+p, soap)
	}
	mux.HandleFunc("POST "+subscriptionPath+"{id}", func(w http.ResponseWriter, req *http.Request) {
		s.serveSOAP(r, w, req, req.PathValue("id"))
	})
	mux.HandleFunc("GET "+snapshotPath+"{file}", s.serveSnapshot)
	return mux
}

// reachable is the host:port clients are told to use: an unspecified
// listen address becomes loopback.
func reachable(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// DeviceURL is the device service's address, http://host:port/onvif/device_service.
func (s *Server) DeviceURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + devicePath
}

// Addr is the host:port the HTTP server is bound to.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr
}

// DiscoveryAddr is the host:port of the unicast WS-Discovery socket, ""
// when discovery is off.
func (s *Server) DiscoveryAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.discAddr
}

// Options are the options the server runs with: defaults filled in, the
// serial chosen, Listen and DiscoveryListen the bound addresses. Start
// with them after Close brings the same camera back on the same ports.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.o
	o.Profiles = append([]Profile(nil), o.Profiles...)
	o.Listen = s.httpAddr
	if s.discAddr != "" {
		o.DiscoveryListen = s.discAddr
	}
	return o
}

// Restart reboots the camera in place: connections are cut, pending
// PullMessages fail, every subscription is lost (clients must subscribe
// again), a moving PTZ head stops; identity, presets and home position
// stay. The ports are the same. If they cannot be bound again (within
// ctx and 10 s), the server stays closed and the error says why.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return errors.New("onvifsrv: restart of a closed server")
	}
	s.run.halt()
	s.run = nil
	if s.ptz != nil {
		s.ptz.halt()
	}
	giveUp := time.After(10 * time.Second)
	for {
		r, err := s.boot(s.httpAddr, s.discAddr)
		if err == nil {
			s.run = r
			s.log.Info("onvif camera restarted", "device", s.base+devicePath)
			return nil
		}
		// Another socket may have taken a port meanwhile; wait a little.
		select {
		case <-ctx.Done():
			return fmt.Errorf("onvifsrv: restart: %w (last: %v)", ctx.Err(), err)
		case <-giveUp:
			return fmt.Errorf("onvifsrv: restart: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the server: ports released, subscriptions gone. It is safe
// to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return
	}
	s.run.halt()
	s.run = nil
	if s.ptz != nil {
		s.ptz.halt()
	}
	s.log.Info("onvif camera closed", "device", s.base+devicePath)
}

// current is the running boot, nil when closed.
func (s *Server) current() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}

// cameraNow is the camera's clock.
func (s *Server) cameraNow() time.Time { return time.Now().Add(s.o.ClockOffset) }

func (s *Server) sourceConfTokens() []string {
	out := make([]string, len(s.chans))
	for i, ch := range s.chans {
		out[i] = ch.sourceConfToken
	}
	return out
}

// endpointUUID derives the device's WS-Addressing endpoint (a name-based
// UUID, version 5 style) from its identity, so it is stable per camera.
func endpointUUID(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

package whep

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// streamID is the MediaStream id (a=msid) of the tracks in answers.
const streamID = "argus"

// ICE liveness: pion's defaults (disconnected after 5 s of silence, failed
// 25 s after that) keep a vanished viewer counted for half a minute; a
// viewer whose tab died without a DTLS close is gone after 15 s here.
const (
	iceDisconnectedTimeout = 5 * time.Second
	iceFailedTimeout       = 10 * time.Second
	iceKeepAlive           = 2 * time.Second
)

// Server answers WHEP offers. It owns the ICE ports; each session gets its
// own PeerConnection on them.
type Server struct {
	cfg        Config
	log        *slog.Logger
	net        *iceNet
	se         webrtc.SettingEngine
	iceServers []webrtc.ICEServer

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool

	readers atomic.Int64
}

// New binds the ICE ports of cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logs := pionLogs{log: cfg.Log}
	n, err := listenICE(cfg, logs)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Log,
		net:      n,
		sessions: map[string]*Session{},
	}
	if len(cfg.STUNServers) > 0 {
		s.iceServers = []webrtc.ICEServer{{URLs: cfg.STUNServers}}
	}
	if err := s.settings(logs); err != nil {
		n.close()
		return nil, err
	}
	s.log.Info("WHEP ICE listening", "udp", n.udpAddr, "tcp", n.tcpAddr, "public_ips", cfg.PublicIPs)
	return s, nil
}

// settings builds the SettingEngine every session's API shares (it carries
// the muxes; pion copies it per API).
func (s *Server) settings(logs pionLogs) error {
	se := webrtc.SettingEngine{LoggerFactory: logs}
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.net.tcpMux != nil {
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
		se.SetICETCPMux(s.net.tcpMux)
	}
	se.SetNetworkTypes(types)
	// Viewers connect to us: active ICE-TCP (dialling out) is of no use.
	se.DisableActiveTCP(true)
	if s.net.udpMux != nil {
		se.SetICEUDPMux(s.net.udpMux)
	}
	se.SetIncludeLoopbackCandidate(s.cfg.Loopback)
	// Browsers offer mDNS (.local) host candidates; we do not need to
	// resolve them (the browser's checks reach our host candidates and
	// pion learns the peer-reflexive address), and a per-session multicast
	// socket on a server is just noise.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepAlive)
	if len(s.cfg.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        s.cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteAppend,
		})
		if err != nil {
			return fmt.Errorf("whep: public IPs: %w", err)
		}
	}
	s.se = se
	return nil
}

// api builds the per-session API: the MediaEngine holds exactly the
// formats planned for this offer.
func (s *Server) api(plan *offerPlan) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(plan.video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("whep: register %s: %w", plan.video.MimeType, err)
	}
	for _, a := range []*webrtc.RTPCodecParameters{plan.audio, plan.audioHold} {
		if a == nil {
			continue
		}
		if err := me.RegisterCodec(*a, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("whep: register %s: %w", a.MimeType, err)
		}
	}
	// A send-only peer needs the NACK responder (retransmissions) and
	// sender reports (lip sync, RTT); codecs first: ConfigureNack adds its
	// rtcp-fb to the codecs registered.
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(me, ir); err != nil {
		return nil, fmt.Errorf("whep: NACK: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("whep: RTCP reports: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(s.se), webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir)), nil
}

// Offer answers a WHEP offer for src. The answer is complete (ICE
// gathering done, no trickle needed); ctx bounds the gathering only, the
// session lives on until it fails, times out unconnected, or is closed.
func (s *Server) Offer(ctx context.Context, offerSDP string, src VideoSource) (*Session, string, error) {
	if src == nil {
		return nil, "", errors.New("whep: nil source")
	}
	audio, _ := src.(AudioSource)
	plan, err := planOffer(offerSDP, audio)
	if err != nil {
		return nil, "", err
	}
	sess, err := s.newSession(plan, src, audio)
	if err != nil {
		return nil, "", err
	}
	answer, err := sess.negotiate(ctx, offerSDP)
	if err != nil {
		sess.Close()
		return nil, "", err
	}
	return sess, answer, nil
}

// Session finds a session by id (PATCH, DELETE).
func (s *Server) Session(id string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

// Readers is the number of connected sessions.
func (s *Server) Readers() int { return int(s.readers.Load()) }

// UDPAddr is the bound ICE UDP address ("" without a mux); a ":0" port
// is resolved.
func (s *Server) UDPAddr() string { return s.net.udpAddr }

// TCPAddr is the bound ICE-TCP address ("" without one).
func (s *Server) TCPAddr() string { return s.net.tcpAddr }

// Close ends every session and releases the ports.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	all := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sess := range all {
		wg.Go(sess.Close)
	}
	wg.Wait()
	s.net.close()
}

func (s *Server) add(sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.sessions[sess.id] = sess
	return nil
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
}

// newID is 128 random bits in lower-case base32: URL-safe, and within
// ^[a-z0-9][a-z0-9_-]{0,62}$.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

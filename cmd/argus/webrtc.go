package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/audit"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/whep"
	"github.com/argus-vms/argus/gateway"
)

// webrtcFlags configure the node's WHEP server.
type webrtcFlags struct {
	udp, tcp, public, stun, origins *string
}

func addWebRTCFlags(f flags) webrtcFlags {
	return webrtcFlags{
		udp:     f.String("webrtc-udp", ":8189", "UDP address of all WebRTC (WHEP) media, one port; empty = WebRTC off"),
		tcp:     f.String("webrtc-tcp", ":8189", "TCP address for WebRTC media when UDP is blocked (ICE-TCP); empty = none"),
		public:  f.String("webrtc-public-ips", "", "comma-separated public IPs to announce as WebRTC candidates (a node behind NAT); empty = the interfaces' addresses"),
		stun:    f.String("webrtc-stun", "", "comma-separated STUN servers (stun:host:port) to learn public addresses from; empty = none"),
		origins: f.String("webrtc-origins", "", "comma-separated browser origins allowed to call WHEP (CORS); empty = any (the live token authorizes)"),
	}
}

// isLoopback reports whether addr (host:port) names a loopback host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// startWebRTC binds the WHEP server and plugs it into live (nothing when
// --webrtc-udp is empty).
func (n *node) startWebRTC(live *gateway.Live) error {
	w := n.cfg.webrtc
	if *w.udp == "" {
		return nil
	}
	srv, err := whep.New(whep.Config{
		UDPAddr:     *w.udp,
		TCPAddr:     *w.tcp,
		PublicIPs:   splitList(*w.public),
		STUNServers: splitList(*w.stun),
		Loopback:    isLoopback(*w.udp), // a node bound to loopback serves players on its own machine (tests)
		Log:         n.log.With("component", "webrtc"),
	})
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	n.whep = srv
	n.log.Info("webrtc (WHEP) ready", "udp", srv.UDPAddr(), "tcp", srv.TCPAddr())
	live.WHEP = n.whepOffer
	live.WHEPSession = func(id string) (gateway.WHEPSession, bool) {
		sess, ok := srv.Session(id)
		if !ok {
			return nil, false
		}
		return sess, true
	}
	live.WHEPOrigins = splitList(*w.origins)
	return nil
}

// whepOffer starts a WebRTC reader of a stream hosted here. The session
// counts as a reader (the camera pull stays up) and is one view in the
// viewing audit; it ends when its stream closes (the shard moved, the
// device was removed), so the player reconnects through a fresh URL.
func (n *node) whepOffer(ctx context.Context, r gateway.WHEPRequest) (string, string, error) {
	k, ok := relay.Key{Device: r.Device, Channel: r.Channel}.Rendition(r.Codec)
	if !ok {
		return "", "", relay.ErrNotFound
	}
	st, err := n.openLive(ctx, k)
	if err != nil {
		return "", "", err
	}
	if err := st.WaitReady(ctx); err != nil {
		return "", "", err
	}
	if c, ok := st.VideoCodec(); !ok || c != relay.CodecH264 {
		return "", "", fmt.Errorf("%w (it is %q)", gateway.ErrWHEPCodec, c)
	}
	release := st.AddReader()
	sess, answer, err := n.whep.Offer(ctx, r.Offer, whep.FromRelay(st))
	if err != nil {
		release()
		return "", "", err
	}
	start := time.Now()
	sess.OnClose(func() {
		release()
		n.audit.Viewed(audit.View{Device: r.Device, Channel: r.Channel, KeyID: r.Viewer, Client: r.Client,
			Protocol: "webrtc", Start: start, End: time.Now()})
	})
	go func() {
		select {
		case <-sess.Done():
		case <-st.Done():
			sess.Close()
		}
	}()
	return sess.ID(), answer, nil
}

// Package embedded runs a NATS server with JetStream inside the Argus process
// (`argus dev`, `argus serve --embedded-nats`, tests).
package embedded

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterName is the NATS cluster name of every clustered embedded server.
const ClusterName = "argus"

// Options for an embedded server.
type Options struct {
	StoreDir string // JetStream file storage
	Listen   string // client host:port; "127.0.0.1:0" picks a free port
	Name     string // server name, unique in a cluster (required when clustered)
	// ClusterListen and Routes join a NATS cluster (named "argus") with
	// JetStream clustered. Routes are nats://host:port URLs of the cluster
	// ports of all members; a server may (and in generated configs usually
	// does) list its own route too: NATS detects the route to itself and
	// drops it, and counting it makes the initial JetStream cluster size the
	// real one. Bare host:port routes are accepted as nats://host:port.
	ClusterListen string
	Routes        []string
	// Logger receives the server's log (notices, warnings, errors); nil
	// keeps it silent.
	Logger server.Logger
	// Raft is the leader election timing of a clustered server (zero:
	// FastFailover; nats-server's own defaults are 1 s heartbeats and 4–9 s
	// elections).
	Raft RaftTiming
	// Sync is when the file store fsyncs (zero: JetStream's default, every
	// 2 minutes). See sync.go.
	Sync Sync
	// User and Password are required of every client and route (routes
	// present them too). Without them the server listens on loopback only:
	// a non-loopback listener without auth refuses to start.
	User, Password string
	// TLS is the client listener's TLS and RouteTLS the routes' (both
	// ends verify: see natsauth.Config.ServerTLS); nil: plain TCP.
	// Connections from inside the process (nats.InProcessServer) skip TLS.
	TLS, RouteTLS *tls.Config
}

// Start starts the server and waits until it accepts connections. A
// clustered server does not wait for its peers: call WaitJetStream.
func Start(o Options) (*server.Server, error) {
	opts, err := serverOptions(o)
	if err != nil {
		return nil, err
	}
	if o.ClusterListen != "" {
		t := o.Raft
		if t == (RaftTiming{}) {
			t = FastFailover
		}
		setRaftTiming(t)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	if o.Logger != nil {
		s.SetLogger(o.Logger, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats not ready after 30s")
	}
	return s, nil
}

func serverOptions(o Options) (*server.Options, error) {
	host, port, err := splitHostPort(o.Listen, "127.0.0.1", 4222)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", o.Listen, err)
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      o.Logger == nil,
		MaxPayload: 8 << 20,
	}
	if err := o.Sync.apply(opts); err != nil {
		return nil, err
	}
	if (o.User == "") != (o.Password == "") {
		return nil, errors.New("nats auth: a user and a password go together")
	}
	if o.User == "" && !isLoopback(host) {
		return nil, fmt.Errorf("nats listen %q: refusing to listen beyond loopback without authentication (give a user and password)", o.Listen)
	}
	opts.Username, opts.Password = o.User, o.Password
	if o.TLS != nil {
		opts.TLSConfig, opts.TLSTimeout = o.TLS, 2
		opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
	}
	if o.ClusterListen == "" {
		if len(o.Routes) > 0 {
			return nil, errors.New("nats routes need a cluster listen address")
		}
		return opts, nil
	}
	if strings.TrimSpace(o.Name) == "" {
		return nil, errors.New("a clustered NATS server needs a unique server name")
	}
	if len(o.Routes) == 0 {
		return nil, errors.New("a clustered NATS server needs routes (nats://host:port of the cluster members, itself included)")
	}
	ch, cp, err := splitHostPort(o.ClusterListen, "0.0.0.0", 6222)
	if err != nil {
		return nil, fmt.Errorf("nats cluster listen %q: %w", o.ClusterListen, err)
	}
	if o.User == "" && !isLoopback(ch) {
		return nil, fmt.Errorf("nats cluster listen %q: refusing to listen beyond loopback without authentication (give a user and password)", o.ClusterListen)
	}
	opts.Cluster = server.ClusterOpts{Name: ClusterName, Host: ch, Port: cp, Username: o.User, Password: o.Password}
	if o.RouteTLS != nil {
		if o.RouteTLS.RootCAs == nil {
			return nil, errors.New("nats route TLS needs a CA (--nats-tls-ca) that signed every member's certificate")
		}
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = o.RouteTLS, 2
	}
	for _, r := range o.Routes {
		u, err := ParseRoute(r)
		if err != nil {
			return nil, err
		}
		if o.User != "" && u.User == nil { // solicited routes present the cluster's credentials
			u.User = url.UserPassword(o.User, o.Password)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// ParseRoute reads one route: nats://host:port (nats-route:// too) or a bare
// host:port.
func ParseRoute(r string) (*url.URL, error) {
	r = strings.TrimSpace(r)
	if !strings.Contains(r, "://") {
		r = "nats://" + r
	}
	u, err := url.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("nats route %q: %w", r, err)
	}
	switch u.Scheme {
	case "nats", "nats-route", "tls":
	default:
		return nil, fmt.Errorf("nats route %q: scheme must be nats://", r)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("nats route %q: want nats://host:port", r)
	}
	if _, err := strconv.Atoi(u.Port()); err != nil {
		return nil, fmt.Errorf("nats route %q: bad port", r)
	}
	return u, nil
}

// WaitJetStream returns once JetStream is usable on s: enabled, and when
// clustered, a meta leader is elected and this server is current with it.
// A clustered server needs a majority of the configured members up for that.
func WaitJetStream(s *server.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if s.JetStreamEnabled() && (!s.JetStreamIsClustered() || metaReady(s)) {
			return nil
		}
		if !s.Running() {
			return errors.New("embedded nats stopped before JetStream was ready")
		}
		if time.Now().After(deadline) {
			if !s.JetStreamEnabled() {
				return fmt.Errorf("JetStream not enabled after %s", timeout)
			}
			return fmt.Errorf("no JetStream meta leader after %s (%d routes up): are a majority of the cluster members running and routable?", timeout, s.NumRoutes())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// LocalURL is s's client URL as this process reaches it: the listen host,
// or loopback when the server listens on all interfaces (0.0.0.0, ::).
func LocalURL(s *server.Server) string {
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		return s.ClientURL()
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		host := "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
		u.Host = net.JoinHostPort(host, u.Port())
	}
	return u.String()
}

func metaReady(s *server.Server) bool {
	if !s.JetStreamIsCurrent() {
		return false
	}
	jsz, err := s.Jsz(&server.JSzOptions{})
	return err == nil && jsz.Meta != nil && jsz.Meta.Leader != ""
}

// ClusterSize is the number of JetStream servers of the meta group as s
// knows it: 1 when not clustered, else the larger of the meta group's
// cluster size (at boot: the number of configured routes, itself included,
// later the peers that joined) and the peers it reports. Offline members
// still count: the size says how many replicas the cluster can place.
func ClusterSize(s *server.Server) int {
	if !s.JetStreamIsClustered() {
		return 1
	}
	jsz, err := s.Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil {
		return 1
	}
	n := jsz.Meta.Size
	if jsz.Meta.Leader != "" && len(jsz.Meta.Replicas)+1 > n {
		n = len(jsz.Meta.Replicas) + 1
	}
	if n < 1 {
		n = 1
	}
	return n
}

// isLoopback: host is a loopback address or name.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitHostPort(hp, defHost string, defPort int) (string, int, error) {
	if hp == "" {
		return defHost, defPort, nil
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		h = "0.0.0.0"
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return h, port, nil
}

// Package edge lets a node serve live streams another node owns (edge
// relays, "cascading"): per stream, one pull of the owner's relay over
// the peer network, fanned out to this node's own readers (RTSP, HLS,
// WebRTC), so the viewers of one camera spread over the cluster with one
// camera pull in total.
//
// The pull asks for the owner before each connection (Config.Owner), so
// when the stream's shard moves the edge reconnects to the new owner (or
// to this node's own relay when the shard moved here) and its readers stay
// attached: the relay rewrites timestamps across the source's reconnects.
// An edge stream closes IdleTimeout after its last reader leaves.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/pull"
	"github.com/argus-vms/argus/actors/media/relay"
)

// PeerKeyID is the key id of the live tokens edges pull with: minted by a
// node (under the cluster's secret), never by an API key, always valid.
const PeerKeyID = "~peer"

// ErrNoOwner: no node owns the stream's shard now (failover in progress).
var ErrNoOwner = errors.New("edge: the stream has no owner now")

// Config of Edges.
type Config struct {
	// Owner is the RTSP base of the node owning a device now (like
	// rtsp://10.0.0.2:8554; this node's own when it owns it); ok false
	// while none does.
	Owner func(device string) (rtspBase string, ok bool)
	// Token mints the live token of a pull (KeyID PeerKeyID).
	Token func(k relay.Key) string
	// IdleTimeout: an edge stream closes this long after its last reader
	// left (default 30 s).
	IdleTimeout time.Duration
	Log         *slog.Logger
}

// Edges are a node's edge streams.
type Edges struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.Mutex
	streams map[relay.Key]*edgeStream
	closed  bool
}

type edgeStream struct {
	st     *relay.Stream
	puller *pull.Puller
	idle   *time.Timer
}

// New returns the node's edges (none open yet).
func New(cfg Config) *Edges {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Edges{cfg: cfg, log: log.With("component", "edge"), streams: map[relay.Key]*edgeStream{}}
}

// Open returns the edge stream of k, starting its pull if needed. It does
// not wait for the stream to be ready (the readers' servers do).
func (e *Edges) Open(_ context.Context, k relay.Key) (*relay.Stream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, relay.ErrClosed
	}
	if es := e.streams[k]; es != nil {
		return es.st, nil
	}
	es := &edgeStream{st: relay.NewStream(k)}
	es.st.SetLogger(e.log.With("device", k.Device, "channel", k.Channel))
	es.puller = pull.Start(pull.Config{
		URL:        "rtsp://owner" + k.Path(), // for the logs: the owner is resolved at each connection
		Resolve:    func() (string, error) { return e.source(k) },
		MinBackoff: 200 * time.Millisecond,
		MaxBackoff: 2 * time.Second,
		Log:        e.log,
	}, feed{es.st})
	es.st.OnReadersChanged(func(n int) { e.readers(k, es, n) })
	e.streams[k] = es
	e.armIdleLocked(k, es)
	e.log.Info("edge stream opened", "device", k.Device, "channel", k.Channel)
	return es.st, nil
}

// source is the URL of k at its owner now.
func (e *Edges) source(k relay.Key) (string, error) {
	base, ok := e.cfg.Owner(k.Device)
	if !ok || base == "" {
		return "", ErrNoOwner
	}
	return fmt.Sprintf("%s%s?token=%s", base, k.Path(), url.QueryEscape(e.cfg.Token(k))), nil
}

// readers runs on reader changes: the last one leaving arms the idle close.
func (e *Edges) readers(k relay.Key, es *edgeStream, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.streams[k] != es {
		return
	}
	if n == 0 {
		e.armIdleLocked(k, es)
	} else if es.idle != nil {
		es.idle.Stop()
		es.idle = nil
	}
}

func (e *Edges) armIdleLocked(k relay.Key, es *edgeStream) {
	if es.idle != nil {
		es.idle.Stop()
	}
	es.idle = time.AfterFunc(e.cfg.IdleTimeout, func() {
		e.mu.Lock()
		if e.streams[k] != es || es.st.Readers() > 0 {
			e.mu.Unlock()
			return
		}
		delete(e.streams, k)
		e.mu.Unlock()
		es.close()
		e.log.Info("edge stream closed (idle)", "device", k.Device, "channel", k.Channel)
	})
}

func (es *edgeStream) close() {
	if es.idle != nil {
		es.idle.Stop()
	}
	es.puller.Close()
	es.st.Close()
}

// Len is the number of open edge streams.
func (e *Edges) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.streams)
}

// Close closes every edge stream.
func (e *Edges) Close() {
	e.mu.Lock()
	e.closed = true
	streams := e.streams
	e.streams = map[relay.Key]*edgeStream{}
	e.mu.Unlock()
	for _, es := range streams {
		es.close()
	}
}

// feed passes the owner's stream into the edge's relay stream.
type feed struct{ st *relay.Stream }

func (f feed) OnConnected(desc *description.Session)        { f.st.SetSource(desc) }
func (f feed) OnPacket(m *description.Media, p *rtp.Packet) { f.st.WritePacket(m, p) }

// OnDisconnected keeps the readers: the next connection (maybe to another
// owner) continues the stream for them.
func (f feed) OnDisconnected(error, time.Duration) { f.st.SetSource(nil) }

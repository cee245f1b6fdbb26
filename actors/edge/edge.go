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
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/ondemand"
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
	cfg Config
	log *slog.Logger
	set *ondemand.Set
}

// New returns the node's edges (none open yet).
func New(cfg Config) *Edges {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "edge")
	return &Edges{cfg: cfg, log: log, set: ondemand.New(cfg.IdleTimeout, log)}
}

// Open returns the edge stream of k, starting its pull if needed. It does
// not wait for the stream to be ready (the readers' servers do).
func (e *Edges) Open(_ context.Context, k relay.Key) (*relay.Stream, error) {
	return e.set.Open(k, func() (*relay.Stream, func(), error) {
		st := relay.NewStream(k)
		st.SetLogger(e.log.With("stream", k.String()))
		puller := pull.Start(pull.Config{
			URL:        "rtsp://owner" + k.Path(), // for the logs: the owner is resolved at each connection
			Resolve:    func() (string, error) { return e.source(k) },
			MinBackoff: 200 * time.Millisecond,
			MaxBackoff: 2 * time.Second,
			Log:        e.log,
		}, feed{st})
		return st, puller.Close, nil
	})
}

// source is the URL of k at its owner now.
func (e *Edges) source(k relay.Key) (string, error) {
	base, ok := e.cfg.Owner(k.Device)
	if !ok || base == "" {
		return "", ErrNoOwner
	}
	u := fmt.Sprintf("%s%s?token=%s", base, k.Path(), url.QueryEscape(e.cfg.Token(k)))
	if k.Codec != "" {
		u += "&" + relay.CodecQuery + "=" + string(k.Codec)
	}
	return u, nil
}

// List lists the open edge streams.
func (e *Edges) List() []ondemand.Running { return e.set.List() }

// Len is the number of open edge streams.
func (e *Edges) Len() int { return e.set.Len() }

// Close closes every edge stream.
func (e *Edges) Close() { e.set.Close() }

// feed passes the owner's stream into the edge's relay stream.
type feed struct{ st *relay.Stream }

func (f feed) OnConnected(desc *description.Session)        { f.st.SetSource(desc) }
func (f feed) OnPacket(m *description.Media, p *rtp.Packet) { f.st.WritePacket(m, p) }

// OnDisconnected keeps the readers: the next connection (maybe to another
// owner) continues the stream for them.
func (f feed) OnDisconnected(error, time.Duration) { f.st.SetSource(nil) }

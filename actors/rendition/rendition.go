// Package rendition runs the renditions of a node's streams: a stream
// transcoded for players that cannot decode the camera's codec (H.265 in
// Chromium) — ?codec=h264 on the live URLs. A rendition is made on
// demand by a live transcode on a worker slot (Config.Start: a task),
// which pushes it into this node's relay (relay.Config.Publish); all the
// readers of a rendition share it, and it stops IdleTimeout after the last
// one left (actors/media/ondemand).
package rendition

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/argus-vms/argus/actors/media/ondemand"
	"github.com/argus-vms/argus/actors/media/relay"
)

// Config of Renditions.
type Config struct {
	// Start starts the transcode that publishes k and returns its stop.
	Start func(ctx context.Context, k relay.Key) (stop func(), err error)
	// IdleTimeout: a rendition stops this long after its last reader left
	// (default 30 s).
	IdleTimeout time.Duration
	Log         *slog.Logger
}

// Renditions are a node's renditions.
type Renditions struct {
	cfg Config
	set *ondemand.Set
}

// New returns the node's renditions (none running).
func New(cfg Config) *Renditions {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "rendition")
	cfg.Log = log
	return &Renditions{cfg: cfg, set: ondemand.New(cfg.IdleTimeout, log)}
}

// Open returns the stream of rendition k, starting its transcode when none
// runs. It does not wait for the first picture (readers' servers do).
func (r *Renditions) Open(ctx context.Context, k relay.Key) (*relay.Stream, error) {
	if k.Codec == "" {
		return nil, errors.New("rendition: no codec")
	}
	return r.set.Open(k, func() (*relay.Stream, func(), error) {
		stop, err := r.cfg.Start(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		st := relay.NewStream(k)
		st.SetLogger(r.cfg.Log.With("device", k.Device, "channel", k.Channel, "codec", k.Codec))
		return st, stop, nil
	})
}

// Publisher is the stream a transcode publishing k feeds (ok false: no
// reader asked for k, or it stopped).
func (r *Renditions) Publisher(k relay.Key) (*relay.Stream, bool) { return r.set.Get(k) }

// List lists the running renditions.
func (r *Renditions) List() []ondemand.Running { return r.set.List() }

// Len is the number of renditions running.
func (r *Renditions) Len() int { return r.set.Len() }

// Close stops every rendition.
func (r *Renditions) Close() { r.set.Close() }

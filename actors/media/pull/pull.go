// Package pull is the camera pull: one gortsplib client per camera stream that
// connects (DESCRIBE → SETUP → PLAY), hands every RTP packet to a Handler and
// reconnects by itself with a capped exponential backoff until Close.
//
// Credentials travel only in the RTSP requests (URL user info handed to
// gortsplib); they are never logged and never part of a returned error.
package pull

import (
	"context"
	"errors"
	"fmt"
	"github.com/argus-vms/argus/actors/media/camurl"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/events/backoff"
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"
)

// Defaults of Config.
const (
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultReadTimeout = 10 * time.Second
)

// Config of a Puller.
type Config struct {
	// URL is rtsp://host[:port]/path, without credentials. Credentials found
	// in it anyway are used when Username is empty, and never logged.
	URL string
	// Username and Password for RTSP authentication (Basic or Digest);
	// never logged.
	Username, Password string
	// Transport is "tcp" (default, RTP interleaved in the RTSP connection)
	// or "udp".
	Transport string
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failed attempt (plus up to 10% jitter) and falls back to
	// MinBackoff after a connection that delivered packets. Defaults
	// 500ms..30s.
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout bounds each RTSP request and detects a camera that stops
	// sending. Default 10s.
	ReadTimeout time.Duration
	// Log receives connection events; nil discards them.
	Log *slog.Logger
	// Resolve, when set, gives the URL before each connection attempt (an
	// edge relay follows its stream's owner from node to node); URL is
	// then only what logs show. Its error fails the attempt.
	Resolve func() (string, error)
}

// Handler receives what a Puller sees. Calls come from the Puller's
// goroutines (with UDP, OnPacket may be called from one goroutine per
// media); none is made after Close returns.
type Handler interface {
	// OnConnected is called on each (re)connection, once the camera
	// answered DESCRIBE and SETUP, before the first packet.
	OnConnected(desc *description.Session)
	// OnPacket is called for each RTP packet. medi is one of the medias of
	// the description last passed to OnConnected. The packet is owned by
	// the handler from then on.
	OnPacket(medi *description.Media, pkt *rtp.Packet)
	// OnDisconnected is called after each failed attempt or lost
	// connection; the Puller retries by itself after retryIn.
	OnDisconnected(err error, retryIn time.Duration)
}

// Puller pulls one camera stream until Close.
type Puller struct {
	cfg Config
	h   Handler
	log *slog.Logger

	u        *base.URL // with credentials: never log it
	redacted string
	protocol gortsplib.Protocol

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	client *gortsplib.Client // current connection, nil between attempts
}

// Start starts pulling in the background and returns at once; the Puller
// runs until Close. Configuration errors (bad URL, unknown transport) are
// reported through OnDisconnected like any other failure, so the caller has
// one error path.
func Start(cfg Config, h Handler) *Puller {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Puller{
		cfg:  cfg,
		h:    h,
		done: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.redacted = camurl.Redact(cfg.URL)
	p.log = log.With("component", "pull", "url", p.redacted)
	go p.run()
	return p
}

// Close stops the Puller: the current connection is closed and Close
// returns once no Handler method runs any more. Safe to call more than once.
func (p *Puller) Close() {
	p.cancel()
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
	<-p.done
}

// IsAuthError reports whether err (as passed to OnDisconnected) is the
// camera refusing the credentials (RTSP 401).
func IsAuthError(err error) bool {
	var bs liberrors.ErrClientBadStatusCode
	if errors.As(err, &bs) {
		return bs.Code == base.StatusUnauthorized
	}
	return false
}

func (p *Puller) prepare() error {
	if p.cfg.Resolve == nil {
		if err := p.setURL(p.cfg.URL); err != nil {
			return err
		}
	}
	switch strings.ToLower(p.cfg.Transport) {
	case "", "tcp":
		p.protocol = gortsplib.ProtocolTCP
	case "udp":
		p.protocol = gortsplib.ProtocolUDP
	default:
		return fmt.Errorf("unknown transport %q (want tcp or udp)", p.cfg.Transport)
	}
	return nil
}

func (p *Puller) run() {
	defer close(p.done)
	prepErr := p.prepare()

	delay := backoff.Backoff{Min: p.cfg.MinBackoff, Max: p.cfg.MaxBackoff}
	for {
		var delivered bool
		var err error
		switch {
		case prepErr != nil:
			err = prepErr
		case p.cfg.Resolve != nil:
			if err = p.resolve(); err == nil {
				delivered, err = p.once()
			}
		default:
			delivered, err = p.once()
		}
		if p.ctx.Err() != nil {
			return
		}
		if delivered {
			delay.Reset()
		}
		retry := delay.Next()
		p.log.Warn("camera pull disconnected", "err", err, "retry_in", retry)
		p.h.OnDisconnected(err, retry)

		t := time.NewTimer(retry)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// setURL parses the URL of the next connections.
func (p *Puller) setURL(raw string) error {
	u, err := base.ParseURL(raw)
	if err != nil {
		// The parse error may quote the URL: do not wrap it.
		return fmt.Errorf("invalid camera URL %q", camurl.Redact(raw))
	}
	camurl.Join((*url.URL)(u), p.cfg.Username, p.cfg.Password)
	p.u = u
	return nil
}

// resolve asks Config.Resolve for the next connection's URL.
func (p *Puller) resolve() error {
	raw, err := p.cfg.Resolve()
	if err != nil {
		return err
	}
	return p.setURL(raw)
}

// once runs one connection until it fails. delivered reports whether at
// least one packet reached the handler.
func (p *Puller) once() (delivered bool, err error) {
	proto := p.protocol
	c := &gortsplib.Client{
		Scheme:       p.u.Scheme,
		Host:         p.u.Host,
		Protocol:     &proto,
		ReadTimeout:  p.cfg.ReadTimeout,
		WriteTimeout: p.cfg.ReadTimeout,
		OnPacketsLost: func(lost uint64) {
			p.log.Debug("RTP packets lost", "lost", lost)
		},
		OnDecodeError: func(err error) {
			p.log.Debug("RTP decode error", "err", err)
		},
		OnTransportSwitch: func(err error) {
			p.log.Info("transport switch", "err", err)
		},
	}
	if err := c.Start(); err != nil {
		return false, fmt.Errorf("start client: %w", err)
	}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		c.Close()
		return false, p.ctx.Err()
	}
	p.client = c
	p.mu.Unlock()
	defer func() {
		c.Close()
		p.mu.Lock()
		p.client = nil
		p.mu.Unlock()
	}()

	desc, _, err := c.Describe(p.u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	if len(desc.Medias) == 0 {
		return false, errors.New("describe: the camera offers no media")
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}

	p.h.OnConnected(desc)

	var got atomic.Bool
	c.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		if !got.Load() {
			got.Store(true)
			p.log.Info("camera pull receiving", "medias", len(desc.Medias), "transport", proto.String())
		}
		p.h.OnPacket(medi, pkt)
	})

	if _, err := c.Play(nil); err != nil {
		return got.Load(), fmt.Errorf("play: %w", err)
	}
	err = c.Wait()
	return got.Load(), fmt.Errorf("read: %w", err)
}

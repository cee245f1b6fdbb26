package projections

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoClickHouse: this node runs without ClickHouse (analytics answer 503).
var ErrNoClickHouse = errors.New("projections: no ClickHouse configured")

// Service connects to ClickHouse, applies the schema and runs every
// projector. It keeps trying while ClickHouse is down: events wait in
// JetStream and catch up once it is back.
type Service struct {
	addr     string
	stream   jetstream.Stream
	segments jetstream.Stream // the segment index (nil: recordings read stream)
	connect  []ConnectOption  // credentials and TLS of ClickHouse
	log      *slog.Logger

	mu         sync.RWMutex
	conn       driver.Conn
	projectors []*Projector
	ready      chan struct{}
	readyOnce  sync.Once

	rebuild rebuildState // see rebuild.go
}

// ServiceOption configures NewService.
type ServiceOption func(*Service)

// WithSegments makes the recordings projector read the segment index
// stream (ARGUS_SEGMENTS) instead of the event log.
func WithSegments(st jetstream.Stream) ServiceOption { return func(s *Service) { s.segments = st } }

// WithConnect sets how the service connects to ClickHouse (WithAuth, WithTLS).
func WithConnect(opts ...ConnectOption) ServiceOption {
	return func(s *Service) { s.connect = append(s.connect, opts...) }
}

// NewService prepares a service for the ClickHouse at addr (host:port)
// projecting the event log stream.
func NewService(addr string, stream jetstream.Stream, log *slog.Logger, opts ...ServiceOption) *Service {
	s := &Service{addr: addr, stream: stream, log: log, ready: make(chan struct{}),
		rebuild: rebuildState{progress: map[string]*RebuildProgress{}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// segmentSink is a sink of the segment index's facts.
type segmentSink interface{ readsSegments() }

// streamOf is the stream sink reads: the segment index for sinks of its
// facts (when the service has it), else the event log.
func (s *Service) streamOf(sink Sink) jetstream.Stream {
	if _, ok := sink.(segmentSink); ok && s.segments != nil {
		return s.segments
	}
	return s.stream
}

// Run connects, migrates and projects until ctx ends.
func (s *Service) Run(ctx context.Context) error { return s.RunWhile(ctx, nil) }

// RunWhile connects and migrates, then projects whenever lead() holds (nil:
// always). A cluster runs one set of projectors: on the node that owns shard
// 0. Each term starts fresh sinks, so no cache outlives another node's term.
func (s *Service) RunWhile(ctx context.Context, lead func() bool) error {
	conn, err := Connect(ctx, s.addr, s.connect...)
	if err != nil {
		return err
	}
	defer conn.Close()
	for warned := false; ; {
		err := Migrate(ctx, conn)
		if err == nil {
			break
		}
		if !warned {
			s.log.Warn("clickhouse not reachable yet; projections wait", "addr", s.addr, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	for ctx.Err() == nil {
		if lead != nil && !lead() {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if err := s.term(ctx, conn, lead); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// term runs every projector until ctx ends or lead() stops holding.
func (s *Service) term(ctx context.Context, conn driver.Conn, lead func() bool) error {
	termCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ps []*Projector
	for _, name := range sinkNames {
		sink := newSink(name, conn, Database)
		p, err := NewProjector(termCtx, s.streamOf(sink), sink, s.log)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	s.mu.Lock()
	s.projectors = ps
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })
	s.log.Info("projections running", "clickhouse", s.addr, "projectors", len(ps))
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(termCtx) }()
	}
	if lead != nil {
		go func() {
			for termCtx.Err() == nil && lead() {
				time.Sleep(500 * time.Millisecond)
			}
			cancel()
		}()
	}
	wg.Wait()
	s.mu.Lock()
	s.projectors = nil
	s.mu.Unlock()
	if ctx.Err() == nil {
		s.log.Info("projections handed over: this node no longer owns shard 0")
	}
	return nil
}

// Conn is the ClickHouse connection once the schema is in place.
func (s *Service) Conn() (driver.Conn, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.conn == nil {
		return nil, ErrNoClickHouse
	}
	return s.conn, nil
}

// Ping tells whether ClickHouse answers now.
func (s *Service) Ping(ctx context.Context) error {
	conn, err := s.Conn()
	if err != nil {
		return err
	}
	return conn.Ping(ctx)
}

// Lag is the largest lag of any projector.
func (s *Service) Lag(ctx context.Context) (uint64, error) {
	s.mu.RLock()
	ps := s.projectors
	s.mu.RUnlock()
	var worst uint64
	for _, p := range ps {
		l, err := p.Lag(ctx)
		if err != nil {
			return 0, err
		}
		worst = max(worst, l)
	}
	return worst, nil
}

// Ready is closed once projections run.
func (s *Service) Ready() <-chan struct{} { return s.ready }

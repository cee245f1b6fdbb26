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
	addr   string
	stream jetstream.Stream
	log    *slog.Logger

	mu         sync.RWMutex
	conn       driver.Conn
	projectors []*Projector
	ready      chan struct{}

	rebuild rebuildState // see rebuild.go
}

// NewService prepares a service for the ClickHouse at addr (host:port).
func NewService(addr string, stream jetstream.Stream, log *slog.Logger) *Service {
	return &Service{addr: addr, stream: stream, log: log, ready: make(chan struct{}),
		rebuild: rebuildState{progress: map[string]*RebuildProgress{}}}
}

// Run connects, migrates and projects until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	conn, err := Connect(ctx, s.addr)
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
	var ps []*Projector
	for _, sink := range []Sink{&EventsSink{Conn: conn}, &DevicesSink{Conn: conn}, &RecordingsSink{Conn: conn}, &StatusSink{Conn: conn}, &SessionsSink{Conn: conn}} {
		p, err := NewProjector(ctx, s.stream, sink, s.log)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	s.mu.Lock()
	s.conn, s.projectors = conn, ps
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("projections running", "clickhouse", s.addr, "projectors", len(ps))
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	wg.Wait()
	return ctx.Err()
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

// Package ondemand keeps a node's streams of one kind that run only while
// read (edge relays, renditions): each starts on its first request and
// closes IdleTimeout after its last reader left.
package ondemand

import (
	"log/slog"
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
)

// startGrace is how long a new stream waits for its first reader: longer
// than a reader's wait for the first picture (relay.DefaultReadyTimeout),
// which a slow start (a transcode) may need.
var startGrace = 20 * time.Second

// Set is the streams of one kind, by key.
type Set struct {
	idle    time.Duration
	log     *slog.Logger
	mu      sync.Mutex
	streams map[relay.Key]*entry
	closed  bool
}

type entry struct {
	st    *relay.Stream
	stop  func() // what feeds st
	timer *time.Timer
	since time.Time
}

// Running is one stream of the set.
type Running struct {
	Stream *relay.Stream
	Since  time.Time // started
}

// List lists the running streams.
func (s *Set) List() []Running {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Running, 0, len(s.streams))
	for _, e := range s.streams {
		out = append(out, Running{Stream: e.st, Since: e.since})
	}
	return out
}

// New returns an empty set whose streams close idle after their last
// reader (default 30 s).
func New(idle time.Duration, log *slog.Logger) *Set {
	if idle <= 0 {
		idle = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Set{idle: idle, log: log, streams: map[relay.Key]*entry{}}
}

// Open returns k's stream; when none runs, start makes it and returns how
// to stop what feeds it (called once, when it closes).
func (s *Set) Open(k relay.Key, start func() (*relay.Stream, func(), error)) (*relay.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, relay.ErrClosed
	}
	if e := s.streams[k]; e != nil {
		return e.st, nil
	}
	st, stop, err := start()
	if err != nil {
		return nil, err
	}
	e := &entry{st: st, stop: stop, since: time.Now()}
	st.OnReadersChanged(func(n int) { s.readers(k, e, n) })
	s.streams[k] = e
	s.armLocked(k, e, max(s.idle, startGrace))
	s.log.Info("on-demand stream started", "stream", k.String())
	return st, nil
}

// Get is k's stream when it runs.
func (s *Set) Get(k relay.Key) (*relay.Stream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.streams[k]; e != nil {
		return e.st, true
	}
	return nil, false
}

// readers runs on reader changes: the last one leaving arms the close.
func (s *Set) readers(k relay.Key, e *entry, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[k] != e {
		return
	}
	if n == 0 {
		s.armLocked(k, e, s.idle)
	} else if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

func (s *Set) armLocked(k relay.Key, e *entry, after time.Duration) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(after, func() {
		s.mu.Lock()
		if s.streams[k] != e || e.st.Readers() > 0 {
			s.mu.Unlock()
			return
		}
		delete(s.streams, k)
		s.mu.Unlock()
		e.close()
		s.log.Info("on-demand stream closed (idle)", "stream", k.String())
	})
}

func (e *entry) close() {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.stop()
	e.st.Close()
}

// Len is the number of streams running.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Close closes every stream; Open fails from then on.
func (s *Set) Close() {
	s.mu.Lock()
	s.closed = true
	all := s.streams
	s.streams = map[relay.Key]*entry{}
	s.mu.Unlock()
	for _, e := range all {
		e.close()
	}
}

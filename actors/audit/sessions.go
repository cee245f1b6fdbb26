package audit

import (
	"sync"
	"time"
)

// Sessions turns HTTP requests into views: an HLS or MP4 player makes many
// requests (playlists, segments, ranges) for one view, so requests with
// the same key are one view until none came for the idle time.
type Sessions struct {
	viewed func(View)
	idle   time.Duration

	mu   sync.Mutex
	open map[string]*View
	stop chan struct{}
	done chan struct{}
}

// NewSessions reports each view to viewed once it has been idle for idle.
func NewSessions(viewed func(View), idle time.Duration) *Sessions {
	s := &Sessions{viewed: viewed, idle: idle, open: map[string]*View{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweep()
	return s
}

// Touch counts one request of the view v names (by key) that sent bytes
// at now; the first request of a view starts it with v's fields.
func (s *Sessions) Touch(key string, v View, bytes uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.open[key]
	if cur == nil {
		v.Start, v.End, v.Bytes = now, now, 0
		cur = &v
		s.open[key] = cur
	}
	cur.End = now
	cur.Bytes += bytes
}

func (s *Sessions) sweep() {
	defer close(s.done)
	t := time.NewTicker(max(s.idle/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.flush(func(*View) bool { return true })
			return
		case now := <-t.C:
			s.flush(func(v *View) bool { return now.Sub(v.End) >= s.idle })
		}
	}
}

// flush reports and forgets the views that are done.
func (s *Sessions) flush(done func(*View) bool) {
	s.mu.Lock()
	var ended []View
	for k, v := range s.open {
		if done(v) {
			ended = append(ended, *v)
			delete(s.open, k)
		}
	}
	s.mu.Unlock()
	for _, v := range ended {
		s.viewed(v)
	}
}

// Close reports every open view and stops.
func (s *Sessions) Close() {
	close(s.stop)
	<-s.done
}

package motion

import (
	"context"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/argus-vms/argus/actors/media/relay"
)

// clipSource is a real H264 source: it plays access units at 25 fps to its
// subscribers, from the first subscription on, like a relay stream with no
// cached GOP (fn runs on its goroutine, serialized, and must not block).
type clipSource struct {
	aus [][][]byte

	mu    sync.Mutex
	subs  map[int]func(relay.Frame)
	next  int
	start chan struct{}
	once  sync.Once
	sent  []time.Time // wall clock when access unit i was delivered
	done  chan struct{}
}

func newClipSource(aus [][][]byte) *clipSource {
	return &clipSource{aus: aus, subs: map[int]func(relay.Frame){},
		start: make(chan struct{}), done: make(chan struct{})}
}

func (s *clipSource) SubscribeVideo(fn func(relay.Frame)) func() {
	s.mu.Lock()
	id := s.next
	s.next++
	s.subs[id] = fn
	s.mu.Unlock()
	s.once.Do(func() { close(s.start) })
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// play delivers every access unit once at 25 fps (after the first
// subscription), then closes done.
func (s *clipSource) play(ctx context.Context) {
	defer close(s.done)
	select {
	case <-s.start:
	case <-ctx.Done():
		return
	}
	const frame = 40 * time.Millisecond
	t0 := time.Now()
	for i, au := range s.aus {
		if d := time.Until(t0.Add(time.Duration(i) * frame)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		s.mu.Lock()
		s.sent = append(s.sent, now)
		for _, fn := range s.subs {
			fn(relay.Frame{Codec: relay.CodecH264, NALUs: au, PTS: time.Duration(i) * frame, NTP: now, Random: h264.IsRandomAccess(au)})
		}
		s.mu.Unlock()
	}
}

// sentAt is when access unit i was delivered (zero if not yet).
func (s *clipSource) sentAt(i int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.sent) {
		return s.sent[i]
	}
	return time.Time{}
}

// recorder collects events with the time fn was called.
type recorder struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *recorder) get() ([]Event, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...), append([]time.Time(nil), r.at...)
}

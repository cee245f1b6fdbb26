package relay

import "sync/atomic"

// subscriber is one video or audio subscription: fn is called on the
// write path until closed.
type subscriber[T any] struct {
	fn     func(T)
	closed atomic.Bool
}

// subscribers are the subscriptions of one kind (under Stream.mu).
type subscribers[T any] []*subscriber[T]

// add subscribes fn and returns its unsubscribe.
func (s *subscribers[T]) add(fn func(T)) (unsubscribe func()) {
	sub := &subscriber[T]{fn: fn}
	*s = append(*s, sub)
	return func() { sub.closed.Store(true) }
}

// deliver calls every open subscription with v and forgets closed ones.
func (s *subscribers[T]) deliver(v T) {
	live := (*s)[:0]
	for _, sub := range *s {
		if sub.closed.Load() {
			continue
		}
		live = append(live, sub)
		sub.fn(v)
	}
	clear((*s)[len(live):])
	*s = live
}

// Package subs is the subscriber list of the media fan-outs (the relay's
// video and audio, a recorder's pre-roll): callbacks called in turn on the
// write path, each until its unsubscribe.
package subs

import "sync/atomic"

type subscriber[T any] struct {
	fn     func(T)
	closed atomic.Bool
}

// List is the subscriptions of one kind. Add and Deliver run under the
// owner's lock; an unsubscribe may be called from anywhere, even from
// within a callback (the subscription is skipped from then on, dropped at
// the next Deliver).
type List[T any] []*subscriber[T]

// Add subscribes fn and returns its unsubscribe.
func (s *List[T]) Add(fn func(T)) (unsubscribe func()) {
	sub := &subscriber[T]{fn: fn}
	*s = append(*s, sub)
	return func() { sub.closed.Store(true) }
}

// Deliver calls every open subscription with v and forgets closed ones.
func (s *List[T]) Deliver(v T) {
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

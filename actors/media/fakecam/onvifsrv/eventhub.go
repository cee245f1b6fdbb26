package onvifsrv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Bounds of the pull-point subscriptions.
const (
	maxSubscriptions    = 64
	maxQueued           = 1000 // per subscription; the oldest go first
	maxPullTimeout      = time.Minute
	maxMessageLimit     = 1024
	defaultSubscription = time.Minute // CreatePullPointSubscription without InitialTerminationTime
	maxSubscription     = 24 * time.Hour
)

var (
	errNoSubscription    = errors.New("no such subscription")
	errTooManySubs       = errors.New("too many subscriptions")
	errBadTermination    = errors.New("termination time not in the future")
	errSubscriptionEnded = errors.New("subscription ended")
)

// motionRule is the rule name of the cell motion detector's events.
const motionRule = "MyMotionDetectorRule"

// notification is one queued event: motion on a video source
// (configuration) turned on or off, or its state when a subscription
// starts (Initialized).
type notification struct {
	at     time.Time // the camera's clock
	source string    // VideoSourceConfigurationToken
	motion bool
	op     string // PropertyOperation: Initialized | Changed
}

// lifetime is how long a subscription lasts: ttl from its creation or
// last renewal and, when keepAlive (a relative termination time), from
// each PullMessages too, as ONVIF's pull point wants.
type lifetime struct {
	ttl       time.Duration
	keepAlive bool
}

// subscription is one pull point.
type subscription struct {
	id      string
	life    lifetime
	expires time.Time // the camera's clock
	queue   []notification
	wake    chan struct{} // closed (and replaced) when the queue grows or the subscription ends
	ended   bool
}

func (sub *subscription) signal() {
	close(sub.wake)
	sub.wake = make(chan struct{})
}

// hub holds one run's subscriptions and the motion state of the sources
// (a restart loses both).
type hub struct {
	now     func() time.Time // the camera's clock
	sources []string
	// changed, when set, is called (with mu held: it must not block or
	// call back) after every raise.
	changed func()

	mu     sync.Mutex
	subs   map[string]*subscription
	motion map[string]bool
	closed bool
}

func newHub(now func() time.Time, sources []string) *hub {
	return &hub{now: now, sources: sources, subs: map[string]*subscription{}, motion: map[string]bool{}}
}

// initialized is every source's current motion state, which a new
// subscription (or a synchronization point) starts with, as properties do.
func (h *hub) initialized(now time.Time) []notification {
	out := make([]notification, 0, len(h.sources))
	for _, src := range h.sources {
		out = append(out, notification{at: now, source: src, motion: h.motion[src], op: "Initialized"})
	}
	return out
}

// create opens a subscription.
func (h *hub) create(life lifetime) (*subscription, time.Time, error) {
	if life.ttl <= 0 {
		return nil, time.Time{}, errBadTermination
	}
	life.ttl = min(life.ttl, maxSubscription)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.pruneLocked(now)
	if h.closed || len(h.subs) >= maxSubscriptions {
		return nil, time.Time{}, errTooManySubs
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	sub := &subscription{
		id:      hex.EncodeToString(b[:]),
		life:    life,
		expires: now.Add(life.ttl),
		queue:   h.initialized(now),
		wake:    make(chan struct{}),
	}
	h.subs[sub.id] = sub
	return sub, now, nil
}

// live is the subscription id if it exists and has not expired; the
// caller holds mu.
func (h *hub) live(id string, now time.Time) *subscription {
	sub := h.subs[id]
	if sub == nil {
		return nil
	}
	if !now.Before(sub.expires) {
		h.endLocked(sub)
		return nil
	}
	return sub
}

// renew gives a subscription a new lifetime from now.
func (h *hub) renew(id string, life lifetime) (now, expires time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now = h.now()
	sub := h.live(id, now)
	if sub == nil {
		return now, time.Time{}, errNoSubscription
	}
	if life.ttl <= 0 {
		return now, time.Time{}, errBadTermination
	}
	life.ttl = min(life.ttl, maxSubscription)
	sub.life = life
	sub.expires = now.Add(life.ttl)
	return now, sub.expires, nil
}

func (h *hub) unsubscribe(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub := h.live(id, h.now())
	if sub == nil {
		return errNoSubscription
	}
	h.endLocked(sub)
	return nil
}

// synchronize queues the current state again (SetSynchronizationPoint).
func (h *hub) synchronize(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	sub := h.live(id, now)
	if sub == nil {
		return errNoSubscription
	}
	h.pushLocked(sub, h.initialized(now)...)
	return nil
}

func (h *hub) keepAliveLocked(sub *subscription, now time.Time) {
	if sub.life.keepAlive {
		sub.expires = now.Add(sub.life.ttl)
	}
}

func (h *hub) pushLocked(sub *subscription, ns ...notification) {
	sub.queue = append(sub.queue, ns...)
	if over := len(sub.queue) - maxQueued; over > 0 {
		sub.queue = append(sub.queue[:0], sub.queue[over:]...)
	}
	sub.signal()
}

func (h *hub) endLocked(sub *subscription) {
	delete(h.subs, sub.id)
	sub.ended = true
	sub.signal()
}

// raise sets a source's motion state and queues the change for every
// subscription.
func (h *hub) raise(source string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.motion[source] = on
	if h.changed != nil {
		h.changed()
	}
	n := notification{at: now, source: source, motion: on, op: "Changed"}
	for _, sub := range h.subs {
		if now.Before(sub.expires) {
			h.pushLocked(sub, n)
		}
	}
}

// motionOf is a source's motion state.
func (h *hub) motionOf(source string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.motion[source]
}

// pull takes up to limit queued notifications, waiting up to timeout for
// the first (a long poll). It returns the camera's time and the
// subscription's end with them. A pull keeps a relative lifetime up: the
// subscription then ends ttl after the pull starts or answers.
func (h *hub) pull(ctx context.Context, id string, timeout time.Duration, limit int) (msgs []notification, now, expires time.Time, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for first := true; ; first = false {
		h.mu.Lock()
		now = h.now()
		sub := h.live(id, now)
		if sub == nil {
			h.mu.Unlock()
			return nil, now, time.Time{}, errNoSubscription
		}
		if first {
			h.keepAliveLocked(sub, now)
		}
		if len(sub.queue) > 0 {
			h.keepAliveLocked(sub, now)
			k := min(limit, len(sub.queue))
			msgs = append([]notification(nil), sub.queue[:k]...)
			sub.queue = append(sub.queue[:0], sub.queue[k:]...)
			h.mu.Unlock()
			return msgs, now, sub.expires, nil
		}
		wake, until := sub.wake, sub.expires
		h.mu.Unlock()

		expiry := time.NewTimer(until.Sub(now))
		select {
		case <-wake:
			expiry.Stop()
			continue
		case <-deadline.C:
			expiry.Stop()
			h.mu.Lock()
			defer h.mu.Unlock()
			now = h.now()
			if sub := h.live(id, now); sub != nil {
				h.keepAliveLocked(sub, now)
				return nil, now, sub.expires, nil
			}
			return nil, now, time.Time{}, errNoSubscription
		case <-expiry.C:
			continue // live() ends it
		case <-ctx.Done():
			expiry.Stop()
			return nil, now, time.Time{}, errSubscriptionEnded
		}
	}
}

// count is the number of live subscriptions.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked(h.now())
	return len(h.subs)
}

func (h *hub) pruneLocked(now time.Time) {
	for _, sub := range h.subs {
		if !now.Before(sub.expires) {
			h.endLocked(sub)
		}
	}
}

// janitor drops expired subscriptions until ctx ends.
func (h *hub) janitor(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.mu.Lock()
			h.pruneLocked(h.now())
			h.mu.Unlock()
		}
	}
}

// closeAll ends every subscription (the camera stops).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, sub := range h.subs {
		h.endLocked(sub)
	}
}

package record

import (
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
)

// PreRoll keeps the last seconds of a stream's access units, from an IDR,
// so that an event recording can start before the event that triggered it.
// It holds up to Keep plus one GOP of video in memory (30 s of a 2 Mbit/s
// camera: about 8 MB).
type PreRoll struct {
	keep  time.Duration
	mu    sync.Mutex
	buf   []relay.Frame
	subs  []*preSub
	unsub func()
}

type preSub struct {
	fn     func(relay.Frame)
	closed bool
}

// NewPreRoll starts buffering src.
func NewPreRoll(src Source, keep time.Duration) *PreRoll {
	p := &PreRoll{keep: keep}
	p.unsub = src.SubscribeVideo(p.onAU)
	return p
}

// Close stops buffering; subscribers get nothing more.
func (p *PreRoll) Close() {
	p.unsub()
	p.mu.Lock()
	p.buf, p.subs = nil, nil
	p.mu.Unlock()
}

// Len is the number of access units buffered.
func (p *PreRoll) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

// onAU runs on the relay's write path: it appends, trims whole GOPs older
// than keep (the buffer always starts at an IDR) and passes the unit on.
func (p *PreRoll) onAU(f relay.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 || f.Random {
		p.buf = append(p.buf, f)
	}
	// Drop the oldest GOP while the next one still starts keep or more ago.
	for {
		next := -1
		for i := 1; i < len(p.buf); i++ {
			if p.buf[i].Random {
				next = i
				break
			}
		}
		if next < 0 || f.NTP.Sub(p.buf[next].NTP) < p.keep {
			break
		}
		p.buf = append(p.buf[:0:0], p.buf[next:]...)
	}
	live := p.subs[:0]
	for _, s := range p.subs {
		if !s.closed {
			s.fn(f)
			live = append(live, s)
		}
	}
	p.subs = live
}

// From is a source that starts at the last IDR at or before t (the
// buffer's first one when t is older) and continues live.
func (p *PreRoll) From(t time.Time) Source { return preRollFrom{p: p, t: t} }

type preRollFrom struct {
	p *PreRoll
	t time.Time
}

func (f preRollFrom) SubscribeVideo(fn func(relay.Frame)) func() {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	start := 0
	for i, it := range p.buf {
		if it.NTP.After(f.t) {
			break
		}
		if it.Random {
			start = i
		}
	}
	for _, it := range p.buf[start:] {
		fn(it)
	}
	s := &preSub{fn: fn}
	p.subs = append(p.subs, s)
	return func() {
		p.mu.Lock()
		s.closed = true
		p.mu.Unlock()
	}
}

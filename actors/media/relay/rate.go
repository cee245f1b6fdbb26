package relay

import (
	"sync"
	"time"
)

// rateMeter counts bytes per second over a short window.
type rateMeter struct {
	mu      sync.Mutex
	buckets [8]struct {
		sec   int64
		bytes int64
	}
}

const rateWindow = 4 // seconds, complete ones

func (r *rateMeter) add(now time.Time, n int) {
	sec := now.Unix()
	r.mu.Lock()
	b := &r.buckets[sec%int64(len(r.buckets))]
	if b.sec != sec {
		b.sec = sec
		b.bytes = 0
	}
	b.bytes += int64(n)
	r.mu.Unlock()
}

func (r *rateMeter) kbps(now time.Time) float64 {
	sec := now.Unix()
	var total int64
	r.mu.Lock()
	for _, b := range r.buckets {
		if b.sec >= sec-rateWindow && b.sec < sec {
			total += b.bytes
		}
	}
	r.mu.Unlock()
	return float64(total) * 8 / rateWindow / 1000
}

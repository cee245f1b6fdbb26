package whep

import (
	"sync"
	"time"
)

// frameQueue decouples the source's callback, which must never block,
// from a session's writer, which may (an ICE-TCP socket, a busy CPU).
//
// A video queue (keyframes true) holds whole access units and keeps the
// stream decodable: it starts at a keyframe, and when the peer falls
// behind it drops everything up to the next keyframe, then restarts from
// there without the stale backlog. An audio queue just drops the frame
// that does not fit. "Behind" is wall-clock age of the oldest queued
// frame, not a count: the cached-GOP replay at subscribe arrives in one
// burst, a whole GOP with pts up to seconds old, and must fit.
type frameQueue struct {
	keyframes bool
	maxAge    time.Duration
	maxBytes  int

	mu      sync.Mutex
	items   []queued
	bytes   int
	waitKey bool
	closed  bool
	dropped int
	// onDrop is called (under mu, so it must be quick) when the queue
	// starts dropping to the next keyframe.
	onDrop func()

	wake chan struct{} // capacity 1: "there is something"
}

type queued struct {
	frames [][]byte
	pts    time.Duration
	key    bool
	size   int
	at     time.Time
}

// Limits: a second of backlog is already a poor live view; the byte cap
// only bounds memory for a stuck peer (the queue references the source's
// buffers, it does not copy them).
const (
	videoMaxAge   = time.Second
	videoMaxBytes = 16 << 20
	audioMaxAge   = time.Second
	audioMaxBytes = 1 << 20
)

func newFrameQueue(keyframes bool, maxAge time.Duration, maxBytes int) *frameQueue {
	return &frameQueue{
		keyframes: keyframes,
		maxAge:    maxAge,
		maxBytes:  maxBytes,
		waitKey:   keyframes, // the first thing sent is a keyframe
		wake:      make(chan struct{}, 1),
	}
}

// push queues a frame; it never blocks.
func (q *frameQueue) push(frames [][]byte, pts time.Duration, key bool) {
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.keyframes && q.waitKey && !key {
		q.dropped++
		return
	}
	full := q.bytes+size > q.maxBytes ||
		(len(q.items) > 0 && now.Sub(q.items[0].at) > q.maxAge)
	if full {
		if !q.keyframes || !key {
			q.dropped++
			if q.keyframes && !q.waitKey {
				q.waitKey = true
				if q.onDrop != nil {
					q.onDrop()
				}
			}
			return
		}
		// A keyframe while behind: what is queued is stale, start over here.
		q.dropped += len(q.items)
		clear(q.items)
		q.items, q.bytes = q.items[:0], 0
	}
	q.waitKey = false
	q.items = append(q.items, queued{frames: frames, pts: pts, key: key, size: size, at: now})
	q.bytes += size
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next frame; ok is false once the queue is closed.
func (q *frameQueue) pop() (queued, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return queued{}, false
		}
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = queued{}
			q.items = q.items[1:]
			q.bytes -= it.size
			if len(q.items) == 0 {
				q.items = nil // let the backing array go
			}
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// close wakes the writer and drops what is left.
func (q *frameQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// droppedFrames is the number of frames dropped so far.
func (q *frameQueue) droppedFrames() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

package whep

import (
	"testing"
	"time"
)

func frame(n int) [][]byte { return [][]byte{make([]byte, n)} }

// TestVideoQueue: the queue starts at a keyframe; a peer behind by more
// than maxAge loses everything up to the next keyframe, which restarts the
// stream without the stale backlog.
func TestVideoQueue(t *testing.T) {
	q := newFrameQueue(true, time.Second, 1000)
	q.push(frame(10), 0, false) // before any keyframe: dropped
	q.push(frame(10), 1, true)
	q.push(frame(10), 2, false)
	q.push(frame(10), 3, false)
	for _, want := range []time.Duration{1, 2, 3} {
		if it, ok := q.pop(); !ok || it.pts != want {
			t.Fatalf("pop = %v %v, want pts %v", it.pts, ok, want)
		}
	}

	// The peer stalls: pts 4 is queued and grows old.
	q.push(frame(10), 4, false)
	q.mu.Lock()
	q.items[0].at = time.Now().Add(-2 * time.Second)
	q.mu.Unlock()
	q.push(frame(10), 5, false) // behind: dropped, and so is the rest of the GOP
	q.push(frame(10), 6, false)
	q.push(frame(10), 7, true) // the next keyframe flushes pts 4
	q.push(frame(10), 8, false)
	for _, want := range []time.Duration{7, 8} {
		if it, ok := q.pop(); !ok || it.pts != want {
			t.Fatalf("after the stall: pop = %v %v, want pts %v", it.pts, ok, want)
		}
	}
	if d := q.droppedFrames(); d != 4 { // 0, 5, 6 and the flushed 4
		t.Fatalf("dropped %d, want 4", d)
	}

	// The byte cap works the same way.
	q.push(frame(900), 9, true)
	q.push(frame(200), 10, false) // over 1000 bytes: dropped, wait for a keyframe
	q.push(frame(10), 11, false)
	if it, _ := q.pop(); it.pts != 9 {
		t.Fatalf("pop = %v, want 9", it.pts)
	}
	q.push(frame(10), 12, false) // still waiting for a keyframe
	q.push(frame(10), 13, true)
	if it, _ := q.pop(); it.pts != 13 {
		t.Fatalf("pop = %v, want 13", it.pts)
	}

	// A GOP burst of fresh frames fits whatever its pts span.
	for i := range 100 {
		q.push(frame(5), time.Duration(i)*time.Hour, i == 0)
	}
	for range 100 {
		if _, ok := q.pop(); !ok {
			t.Fatal("burst frame missing")
		}
	}

	done := make(chan bool)
	go func() { _, ok := q.pop(); done <- ok }()
	time.Sleep(10 * time.Millisecond)
	q.close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("pop after close returned a frame")
		}
	case <-time.After(time.Second):
		t.Fatal("close does not wake pop")
	}
	q.push(frame(1), 0, true) // after close: ignored, no panic
}

// TestAudioQueue: audio has no keyframes; what does not fit is dropped
// alone.
func TestAudioQueue(t *testing.T) {
	q := newFrameQueue(false, time.Second, 100)
	q.push(frame(60), 1, false)
	q.push(frame(60), 2, false) // over the byte cap: dropped
	q.push(frame(30), 3, false)
	for _, want := range []time.Duration{1, 3} {
		if it, ok := q.pop(); !ok || it.pts != want {
			t.Fatalf("pop = %v %v, want %v", it.pts, ok, want)
		}
	}
}

// TestTicks: pts to RTP clock, exact and without overflow on long runs.
func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		pts   time.Duration
		clock int64
		want  int64
	}{
		{40 * time.Millisecond, 90000, 3600},
		{20 * time.Millisecond, 48000, 960},
		{1000 * time.Hour, 90000, 1000 * 3600 * 90000},
		{-40 * time.Millisecond, 90000, -3600},
	} {
		if got := ticks(tc.pts, tc.clock); got != tc.want {
			t.Errorf("ticks(%v, %d) = %d, want %d", tc.pts, tc.clock, got, tc.want)
		}
	}
}

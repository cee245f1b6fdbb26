package snapshot

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

func sameBytes(a, b []byte) bool { return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0] }

func TestCacheServesSecondCall(t *testing.T) {
	t.Parallel()
	kf := keyframe(t)
	g := New(Options{CacheFor: time.Hour}) // no clock in this test: nothing expires
	a, err := g.FromKeyframe(ctxT(t), "cam-1~1", kf, 320)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.FromKeyframe(ctxT(t), "cam-1~1", kf, 320)
	if err != nil {
		t.Fatal(err)
	}
	if n := g.ffmpegRuns.Load(); n != 1 || !sameBytes(a, b) {
		t.Fatalf("second call: %d ffmpeg runs, same JPEG %v; want 1 and the same", n, sameBytes(a, b))
	}
	// another width, another key: grabs of their own
	if _, err := g.FromKeyframe(ctxT(t), "cam-1~1", kf, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := g.FromKeyframe(ctxT(t), "cam-1~2", kf, 320); err != nil {
		t.Fatal(err)
	}
	if n := g.ffmpegRuns.Load(); n != 3 {
		t.Fatalf("%d ffmpeg runs, want 3", n)
	}
}

func TestConcurrentCallsShareOneGrab(t *testing.T) {
	t.Parallel()
	kf := keyframe(t)
	g := New(Options{CacheFor: -1}) // no cache: only the sharing counts
	release := make(chan struct{})
	g.hookGrab = func(string, int) { <-release }

	const callers = 8
	var wg sync.WaitGroup
	jpgs := make([][]byte, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { jpgs[i], errs[i] = g.FromKeyframe(ctxT(t), "cam-1~1", kf, 320) })
	}
	testenv.WaitFor(t, 10*time.Second, "all callers on one grab", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		f := g.flights[flightKey{"cam-1~1", 320}]
		return f != nil && f.callers == callers
	})
	close(release)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || !sameBytes(jpgs[i], jpgs[0]) {
			t.Fatalf("caller %d: %v, same JPEG %v", i, errs[i], sameBytes(jpgs[i], jpgs[0]))
		}
	}
	wantJPEG(t, jpgs[0], 320, 180)
	if n := g.ffmpegRuns.Load(); n != 1 {
		t.Fatalf("%d ffmpeg runs, want 1", n)
	}
	g.mu.Lock()
	left := len(g.flights)
	g.mu.Unlock()
	if left != 0 {
		t.Errorf("CacheFor < 0 kept %d flights", left)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// counting is a grab that counts its runs and answers a new JPEG each time
// (or err).
func counting(n *int, mu *sync.Mutex, err error) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		*n++
		if err != nil {
			return nil, err
		}
		return []byte{0xff, 0xd8, 0xff, byte(*n)}, nil
	}
}

func TestCacheExpires(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	g := New(Options{}) // CacheFor 1 s
	g.now = clock.now
	var mu sync.Mutex
	runs := 0
	grab := counting(&runs, &mu, nil)
	get := func() []byte {
		t.Helper()
		jpg, err := g.share(ctxT(t), "k", 0, grab)
		if err != nil {
			t.Fatal(err)
		}
		return jpg
	}
	a := get()
	clock.add(999 * time.Millisecond)
	if b := get(); !sameBytes(a, b) || runs != 1 {
		t.Fatalf("within CacheFor: %d runs", runs)
	}
	clock.add(time.Millisecond)
	if b := get(); sameBytes(a, b) || runs != 2 {
		t.Fatalf("at CacheFor: %d runs, want a new grab", runs)
	}

	// stale entries of other keys go at the next sweep
	for _, k := range []string{"a", "b", "c"} {
		if _, err := g.share(ctxT(t), k, 0, grab); err != nil {
			t.Fatal(err)
		}
	}
	clock.add(5 * time.Second)
	get()
	g.mu.Lock()
	left := len(g.flights)
	g.mu.Unlock()
	if left != 1 {
		t.Errorf("%d flights after the sweep, want 1", left)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	g := New(Options{CacheFor: time.Hour})
	var mu sync.Mutex
	runs := 0
	boom := errors.New("boom")
	for i := range 2 {
		if _, err := g.share(ctxT(t), "k", 0, counting(&runs, &mu, boom)); !errors.Is(err, boom) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if runs != 2 {
		t.Fatalf("%d runs, want 2: a failure must not answer the next call", runs)
	}
}

// A caller that gives up neither cancels the grab nor fails the others.
func TestCallerGivingUpLeavesTheGrab(t *testing.T) {
	t.Parallel()
	g := New(Options{CacheFor: time.Hour})
	release := make(chan struct{})
	g.hookGrab = func(string, int) { <-release }
	var mu sync.Mutex
	runs := 0
	var grabCtxErr error
	grab := func(ctx context.Context) ([]byte, error) {
		jpg, err := counting(&runs, &mu, nil)(ctx)
		grabCtxErr = ctx.Err()
		return jpg, err
	}

	quitter, quit := context.WithCancel(context.Background())
	quitErr := make(chan error, 1)
	go func() { _, err := g.share(quitter, "k", 0, grab); quitErr <- err }()
	other := make(chan error, 1)
	go func() { _, err := g.share(ctxT(t), "k", 0, grab); other <- err }()
	testenv.WaitFor(t, 10*time.Second, "both callers", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		f := g.flights[flightKey{"k", 0}]
		return f != nil && f.callers == 2
	})
	quit()
	if err := <-quitErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the quitter: %v", err)
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatalf("the other caller: %v", err)
	}
	if grabCtxErr != nil {
		t.Errorf("the grab saw %v", grabCtxErr)
	}
	if _, err := g.share(ctxT(t), "k", 0, grab); err != nil || runs != 1 {
		t.Fatalf("after: %v, %d runs; want the cached JPEG", err, runs)
	}
}

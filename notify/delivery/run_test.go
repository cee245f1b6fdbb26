package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/notify/payload"
	"github.com/argus-vms/argus/test/testenv"
)

func TestDeliversOnceInOrderPerDevice(t *testing.T) {
	for _, conc := range []int{4, 2} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			f := newFixture(t)
			devs := []string{"cam-a", "cam-b", "cam-c"}
			want := map[string][]uint64{}
			add := func(from, to int) {
				for i := from; i < to; i++ {
					for _, d := range devs {
						want[d] = append(want[d], f.device(d, i))
					}
				}
			}
			add(0, 20)
			want[""] = []uint64{f.shard()} // no device: a queue of its own
			c, start := f.open("sub", 0)
			rec := newRecorder()
			r := f.start(Options{
				Cursor: c, Start: start, Concurrency: conc, SaveEvery: 50 * time.Millisecond, OnAttempt: rec.attempt,
				Deliver: rec.deliver(func(ctx context.Context, _ payload.Notification, _ int) Result {
					return sleep(ctx, time.Duration(rand.IntN(2000))*time.Microsecond)
				}),
			})
			add(20, 40) // followed live
			last := want["cam-c"][39]
			testenv.WaitFor(t, 10*time.Second, "every event delivered", func() bool { return rec.delivered() == 121 })
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			for d, seqs := range want {
				if !slices.Equal(rec.got[d], seqs) {
					t.Errorf("device %q got %v, want %v", d, rec.got[d], seqs)
				}
			}
			for id, n := range rec.ids {
				if n != 1 {
					t.Errorf("event %s delivered %d times", id, n)
				}
			}
			if rec.overlap {
				t.Error("two deliveries of one device overlapped")
			}
			if rec.peak > conc || rec.peak < 2 {
				t.Errorf("at most %d deliveries in flight, want 2..%d", rec.peak, conc)
			}
			if len(rec.attempts) != 121 {
				t.Errorf("%d attempts recorded, want 121", len(rec.attempts))
			}
			for _, a := range rec.attempts {
				if a.Outcome != Delivered || a.Attempt != 1 || a.Status != 200 || a.EventID == "" || a.Latency <= 0 || a.Type != "device.online" && a.Type != "shard.acquired" {
					t.Errorf("attempt %+v", a)
					break
				}
			}
			if got := f.saved("sub"); got != last {
				t.Errorf("cursor saved at %d, want %d", got, last)
			}
		})
	}
}

func TestRetryDoesNotHoldUpOtherDevices(t *testing.T) {
	f := newFixture(t)
	a1 := f.device("cam-a", 0)
	var b []uint64
	for i := range 20 {
		b = append(b, f.device("cam-b", i))
	}
	a2 := f.device("cam-a", 1)
	c, start := f.open("sub", 0)
	rec := newRecorder()
	r := f.start(Options{
		Cursor: c, Start: start, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, SaveEvery: 50 * time.Millisecond,
		OnAttempt: rec.attempt,
		Deliver: rec.deliver(func(_ context.Context, n payload.Notification, attempt int) Result {
			if n.Seq == a1 && attempt <= 3 {
				return Result{Retry: true, Status: 503}
			}
			return Result{OK: true, Status: 200}
		}),
	})
	testenv.WaitFor(t, 10*time.Second, "every event delivered", func() bool { return rec.delivered() == 22 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	as := rec.of(a1)
	if got := outcomes(as); !slices.Equal(got, []string{Retrying, Retrying, Retrying, Delivered}) {
		t.Fatalf("outcomes of the retried event: %v", got)
	}
	for i, a := range as {
		if a.Attempt != i+1 || (i < 3) != (a.Status == 503) {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	// 100 + 200 + 400 ms of backoff at least.
	if d := as[3].Time.Sub(as[0].Time); d < 700*time.Millisecond {
		t.Errorf("retried within %v, want ≥ 700ms of backoff", d)
	}
	if !slices.Equal(rec.got["cam-a"], []uint64{a1, a2}) || !slices.Equal(rec.got["cam-b"], b) {
		t.Errorf("got %v", rec.got)
	}
	if !rec.when[b[19]].Before(rec.when[a1]) {
		t.Error("cam-b waited for cam-a's retries")
	}
	if got := f.saved("sub"); got != a2 {
		t.Errorf("cursor %d, want %d", got, a2)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		f := newFixture(t)
		e := f.device("cam-a", 0)
		c, start := f.open("sub", 0)
		rec := newRecorder()
		var firstEnd atomic.Int64
		f.start(Options{
			Cursor: c, Start: start, MinBackoff: 10 * time.Millisecond, OnAttempt: rec.attempt,
			Deliver: rec.deliver(func(_ context.Context, _ payload.Notification, attempt int) Result {
				if attempt == 1 {
					firstEnd.Store(time.Now().UnixNano())
					return Result{Retry: true, RetryAfter: 400 * time.Millisecond, Status: 429}
				}
				return Result{OK: true, Status: 200}
			}),
		})
		testenv.WaitFor(t, 5*time.Second, "delivered", func() bool { return rec.has(e) })
		as := rec.of(e)
		if len(as) != 2 {
			t.Fatalf("attempts %v", outcomes(as))
		}
		if d := as[1].Time.Sub(time.Unix(0, firstEnd.Load())); d < 400*time.Millisecond {
			t.Fatalf("second attempt %v after the first answered, want ≥ Retry-After 400ms", d)
		}
	})
	t.Run("capped at MaxAge", func(t *testing.T) {
		f := newFixture(t)
		e1, e2 := f.device("cam-a", 0), f.device("cam-a", 1)
		c, start := f.open("sub", 0)
		rec := newRecorder()
		f.start(Options{
			Cursor: c, Start: start, MinBackoff: 10 * time.Millisecond, MaxAge: 300 * time.Millisecond, OnAttempt: rec.attempt,
			Deliver: rec.deliver(func(_ context.Context, n payload.Notification, _ int) Result {
				if n.Seq == e1 {
					return Result{Retry: true, RetryAfter: time.Hour, Status: 429}
				}
				return Result{OK: true, Status: 200}
			}),
		})
		took := testenv.WaitFor(t, 5*time.Second, "the next event delivered", func() bool { return rec.has(e2) })
		if got := outcomes(rec.of(e1)); !slices.Equal(got, []string{Retrying, Failed}) || took > 2*time.Second {
			t.Fatalf("outcomes %v after %v, want one last attempt at MaxAge", got, took)
		}
	})
}

func TestGiveUp(t *testing.T) {
	f := newFixture(t)
	e1, e2, e3 := f.device("cam-a", 0), f.device("cam-a", 1), f.device("cam-a", 2)
	c, start := f.open("sub", 0)
	rec := newRecorder()
	r := f.start(Options{
		Cursor: c, Start: start, MinBackoff: 50 * time.Millisecond, MaxAge: 300 * time.Millisecond, SaveEvery: 50 * time.Millisecond,
		OnAttempt: rec.attempt,
		Deliver: rec.deliver(func(_ context.Context, n payload.Notification, _ int) Result {
			switch n.Seq {
			case e1:
				return Result{Status: 400} // not retryable
			case e2:
				return Result{Retry: true, Status: 503, Err: errors.New("upstream down")}
			}
			return Result{OK: true, Status: 200}
		}),
	})
	testenv.WaitFor(t, 5*time.Second, "the last event delivered", func() bool { return rec.has(e3) })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rec.of(e1)); !slices.Equal(got, []string{Failed}) {
		t.Errorf("not retryable: %v, want one failed attempt", got)
	}
	as := rec.of(e2)
	got := outcomes(as)
	if len(as) < 3 || got[len(got)-1] != Failed || slices.Contains(got[:len(got)-1], Failed) {
		t.Errorf("past MaxAge: %v, want retrying then failed", got)
	}
	if d := as[len(as)-1].Time.Sub(as[0].Time); d < 290*time.Millisecond || as[0].Error != "upstream down" {
		t.Errorf("gave up %v after the first attempt (want ≈ MaxAge 300ms); error %q", d, as[0].Error)
	}
	if got := f.saved("sub"); got != e3 {
		t.Errorf("cursor %d, want %d: given-up events count as done", got, e3)
	}
}

func TestGone(t *testing.T) {
	f := newFixture(t)
	var seqs []uint64
	for i := range 10 {
		seqs = append(seqs, f.device("cam-a", i))
	}
	c, start := f.open("sub", 0)
	rec := newRecorder()
	var gone atomic.Int32
	r := f.start(Options{
		Cursor: c, Start: start, OnAttempt: rec.attempt, OnGone: func() { gone.Add(1) },
		Deliver: rec.deliver(func(_ context.Context, n payload.Notification, _ int) Result {
			if n.Seq == seqs[4] {
				return Result{Gone: true, Status: 410}
			}
			return Result{OK: true, Status: 200}
		}),
	})
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatalf("Run after Gone: %v, want nil", err)
	}
	if gone.Load() != 1 {
		t.Fatalf("OnGone called %d times", gone.Load())
	}
	calls := rec.callCount()
	time.Sleep(200 * time.Millisecond)
	if rec.callCount() != calls || calls != 5 || !slices.Equal(rec.got["cam-a"], seqs[:4]) {
		t.Fatalf("%d calls (then %d), delivered %v; want 5 calls, the first 4 delivered", calls, rec.callCount(), rec.got["cam-a"])
	}
	if got := outcomes(rec.of(seqs[4])); !slices.Equal(got, []string{Gone}) {
		t.Errorf("outcomes %v", got)
	}
	// The refused event is not done: a re-enabled subscriber gets it first.
	if got := f.saved("sub"); got != seqs[3] {
		t.Errorf("cursor %d, want %d", got, seqs[3])
	}
}

// TestStopAndResume stops a Run mid-way, by its ctx (a last Save) or as its
// node dies (the last Save lost), and resumes from the saved cursor.
func TestStopAndResume(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "stop", true: "crash"}[crash], func(t *testing.T) {
			f := newFixture(t)
			devs := []string{"cam-a", "cam-b", "cam-c"}
			var all []uint64
			dev := map[uint64]string{}
			for i := range 100 {
				for _, d := range devs {
					s := f.device(d, i)
					all = append(all, s)
					dev[s] = d
				}
			}
			slow := func(ctx context.Context, _ payload.Notification, _ int) Result { return sleep(ctx, time.Millisecond) }

			nc, store, kv := f.node()
			c, start, err := OpenCursor(context.Background(), kv, "sub", 0)
			if err != nil {
				t.Fatal(err)
			}
			rec1 := newRecorder()
			r := f.start(Options{Store: store, Cursor: c, Start: start, SaveEvery: 50 * time.Millisecond, Deliver: rec1.deliver(slow)})
			// Some delivered and a cursor saved (a loaded machine may
			// deliver 90 before the first save).
			testenv.WaitFor(t, 10*time.Second, "some delivered", func() bool { return rec1.delivered() >= 90 && f.saved("sub") > 0 })
			if crash {
				nc.Close() // deliveries in flight still succeed; no Save does
			}
			if err := r.stop(t); (err != nil) != crash {
				t.Fatalf("Run: %v", err)
			}
			saved := f.saved("sub")
			if saved == 0 || saved >= all[len(all)-1] {
				t.Fatalf("saved cursor %d: want mid-way", saved)
			}

			c, start = f.open("sub", 0)
			rec2 := newRecorder()
			r = f.start(Options{Cursor: c, Start: start, SaveEvery: 20 * time.Millisecond, Deliver: rec2.deliver(slow)})
			testenv.WaitFor(t, 10*time.Second, "the rest delivered", func() bool {
				rec2.mu.Lock()
				defer rec2.mu.Unlock()
				return len(rec2.when) >= allAfter(all, saved)
			})
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}

			dups := 0
			for _, s := range all {
				in1, in2 := rec1.when[s], rec2.when[s]
				switch {
				case s <= saved && (in1.IsZero() || !in2.IsZero()):
					t.Fatalf("seq %d ≤ saved cursor %d: first run %v, second %v; want the first run only", s, saved, !in1.IsZero(), !in2.IsZero())
				case s > saved && in2.IsZero():
					t.Fatalf("seq %d after the cursor not delivered by the second run", s)
				case s > saved && !in1.IsZero():
					dups++
				}
			}
			for _, d := range devs {
				var want []uint64
				for _, s := range all {
					if dev[s] == d && s > saved {
						want = append(want, s)
					}
				}
				if !slices.IsSorted(rec1.got[d]) || !slices.Equal(rec2.got[d], want) {
					t.Fatalf("%s: first run %v, second %v; want the second to be exactly %v", d, rec1.got[d], rec2.got[d], want)
				}
			}
			for _, rec := range []*recorder{rec1, rec2} {
				for id, n := range rec.ids {
					if n != 1 {
						t.Errorf("one run delivered %s %d times", id, n)
					}
				}
			}
			t.Logf("cursor saved at %d of %d; %d delivered by the first run, %d of them again", saved, len(all), rec1.delivered(), dups)
		})
	}
}

func allAfter(all []uint64, seq uint64) int {
	n := 0
	for _, s := range all {
		if s > seq {
			n++
		}
	}
	return n
}

func TestResetWhileRunning(t *testing.T) {
	f := newFixture(t)
	var seqs []uint64
	for i := range 20 {
		seqs = append(seqs, f.device("cam-a", i))
	}
	c, start := f.open("sub", 0)
	rec := newRecorder()
	r := f.start(Options{
		Cursor: c, Start: start, SaveEvery: 20 * time.Millisecond,
		Deliver: rec.deliver(func(ctx context.Context, n payload.Notification, _ int) Result {
			if n.Seq == seqs[9] {
				<-ctx.Done() // stuck: the cursor stands still, only the watch notices
				return Result{Err: ctx.Err()}
			}
			return Result{OK: true, Status: 200}
		}),
	})
	testenv.WaitFor(t, 5*time.Second, "first events delivered", func() bool { return rec.delivered() == 9 })
	testenv.WaitFor(t, 5*time.Second, "cursor saved", func() bool { return f.saved("sub") == seqs[8] })
	if err := Reset(context.Background(), f.kv, "sub", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t, 5*time.Second); !errors.Is(err, ErrMoved) {
		t.Fatalf("Run after a Reset: %v, want ErrMoved", err)
	}

	c, start = f.open("sub", 0)
	if start != 0 {
		t.Fatalf("reopened at %d, want the reset point 0", start)
	}
	rec = newRecorder()
	r = f.start(Options{Cursor: c, Start: start, SaveEvery: 20 * time.Millisecond, Deliver: rec.deliver(ok)})
	testenv.WaitFor(t, 5*time.Second, "replayed", func() bool { return rec.delivered() == 20 })
	if !slices.Equal(rec.got["cam-a"], seqs) {
		t.Fatalf("replay %v", rec.got["cam-a"])
	}
	// Idle now: a Reset still stops it at once.
	if err := Reset(context.Background(), f.kv, "sub", seqs[9]); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t, 5*time.Second); !errors.Is(err, ErrMoved) {
		t.Fatalf("idle Run after a Reset: %v, want ErrMoved", err)
	}
	if got := f.saved("sub"); got != seqs[9] {
		t.Fatalf("cursor %d after the reset, want %d", got, seqs[9])
	}
}

func TestWindowBoundsReadAhead(t *testing.T) {
	f := newFixture(t)
	var all []uint64
	for i := range 15 {
		all = append(all, f.device("cam-a", i), f.device("cam-b", i))
	}
	c, start := f.open("sub", 0)
	rec := newRecorder()
	gate := make(chan struct{})
	var matched atomic.Int32
	f.start(Options{
		Cursor: c, Start: start, Window: 10,
		Match: func(payload.Notification) bool { matched.Add(1); return true },
		Deliver: rec.deliver(func(ctx context.Context, _ payload.Notification, _ int) Result {
			select {
			case <-gate:
				return Result{OK: true, Status: 200}
			case <-ctx.Done():
				return Result{Err: ctx.Err()}
			}
		}),
	})
	testenv.WaitFor(t, 5*time.Second, "window full", func() bool { return matched.Load() == 10 })
	time.Sleep(300 * time.Millisecond)
	if n := matched.Load(); n != 10 || rec.callCount() != 2 {
		t.Fatalf("read %d events with 2 deliveries blocked (%d calls), want the window of 10", n, rec.callCount())
	}
	close(gate)
	testenv.WaitFor(t, 5*time.Second, "all delivered", func() bool { return rec.delivered() == len(all) })
	if matched.Load() != int32(len(all)) {
		t.Fatalf("matched %d", matched.Load())
	}
}

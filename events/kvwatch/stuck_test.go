package kvwatch

import (
	"github.com/argus-vms/argus/test/testenv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// When the server holding a watch's consumer dies the watch goes silent;
// the server check notices that a new revision is not delivered and a new
// watch delivers it.
func TestServerCheckRestartsStuckWatch(t *testing.T) {
	_, r, victim, other := stuckSetup(t, func(kv jetstream.KeyValue) (*Watcher, *recorder) {
		r := newRecorder()
		return New(kv, r.apply, OnCurrent(r.current), WithServerCheck(500*time.Millisecond), WithLog(testLog(t))), r
	})
	killed := time.Now()
	victim.Shutdown()
	put(t, other, "k2", "v2")
	written := time.Now()
	testenv.WaitFor(t, 2*time.Second, "k2 delivered by a new watch", func() bool { _, ok := r.get("k2"); return ok })
	t.Logf("written %s after the kill, delivered %s after the write", written.Sub(killed).Round(time.Millisecond), time.Since(written).Round(time.Millisecond))
	if n := r.count(); n < 2 {
		t.Fatalf("k2 came without a new watch (%d markers): the watch was not stuck", n)
	}
	if v, ok := r.get("k1"); !ok || v != "v1" {
		t.Fatal("the new watch's view lacks k1")
	}
}

// An acknowledged write of the caller's own that a stuck watch does not
// deliver within the lag starts a new watch. Before it is reported, the
// watch stays stuck: the stall is real.
func TestOwnWriteRestartsStuckWatch(t *testing.T) {
	w, r, victim, other := stuckSetup(t, func(kv jetstream.KeyValue) (*Watcher, *recorder) {
		r := newRecorder()
		return New(kv, r.apply, OnCurrent(r.current), WithLog(testLog(t))), r
	})
	victim.Shutdown()
	rev := put(t, other, "k2", "v2")
	time.Sleep(1500 * time.Millisecond)
	if _, ok := r.get("k2"); ok {
		t.Fatal("k2 delivered by a watch whose consumer's server died: the test does not stall the watch")
	}
	w.Wrote(rev)
	took := testenv.WaitFor(t, 2*time.Second, "k2 delivered by a new watch", func() bool { _, ok := r.get("k2"); return ok })
	t.Logf("delivered %s after the write was reported", took.Round(time.Millisecond))
	if n := r.count(); n < 2 {
		t.Fatalf("k2 came without a new watch (%d markers)", n)
	}
}

// The rules of progress, on a clock of its own.
func TestProgress(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var p progress
	p.init(500*time.Millisecond, 0)
	p.start(at(0))
	p.want(10, at(0), "own write")
	p.got(4, at(300))
	if why := p.stuck(at(700)); why != "" {
		t.Fatalf("initial values still coming 400ms ago: stuck %q", why)
	}
	if why := p.stuck(at(801)); why == "" {
		t.Fatal("nothing delivered for 500ms with revision 10 awaited: not stuck")
	}
	// A new watch: revision 10 is awaited again, timed from its start.
	p.start(at(1000))
	if why := p.stuck(at(1400)); why != "" {
		t.Fatalf("a watch 400ms old: stuck %q", why)
	}
	// Its initial values cover revision 12 (the server's last before it
	// started), though it delivered 8 only: 10 is no longer awaited.
	p.got(8, at(1100))
	p.caughtUp(12, at(1100))
	if why := p.stuck(at(2000)); why != "" {
		t.Fatalf("caught up: stuck %q", why)
	}
	p.want(12, at(2000), "server") // covered already
	p.want(14, at(2000), "server")
	p.want(13, at(2100), "own write") // covered by 14
	if why := p.stuck(at(2400)); why != "" {
		t.Fatalf("14 known for 400ms: stuck %q", why)
	}
	if why := p.stuck(at(2501)); why == "" {
		t.Fatal("14 known for 501ms: not stuck")
	}
	p.got(14, at(2502))
	if why := p.stuck(at(5000)); why != "" || len(p.expect) != 0 {
		t.Fatalf("all delivered: stuck %q, awaiting %v", why, p.expect)
	}
	// The quiet limit.
	p.init(500*time.Millisecond, time.Second)
	if why := p.stuck(at(3502)); why != "" {
		t.Fatalf("a delivery 1s ago: stuck %q", why)
	}
	if why := p.stuck(at(3503)); why == "" {
		t.Fatal("quiet for over 1s: not stuck")
	}
}

package kvwatch

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

// Initial values (deletes included) come with initial=true and are applied
// before the marker; later puts and deletes come as updates.
func TestInitialValuesThenUpdates(t *testing.T) {
	kv := bucket(t, testenv.NewNATS(t).ClientURL(), "t", 1)
	put(t, kv, "a", "1")
	put(t, kv, "b", "2")
	put(t, kv, "c", "3")
	if err := kv.Delete(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	w := New(kv, r.apply, OnCurrent(r.current), WithLog(testLog(t)))
	run(t, w)
	testenv.WaitFor(t, 5*time.Second, "initial values", func() bool { return r.count() == 1 })
	view, initial, updates := r.snapshot()
	if want := map[string]string{"a": "1", "b": "2"}; !maps.Equal(view, want) {
		t.Fatalf("initial view %v, want %v", view, want)
	}
	if want := []string{"put a", "put b", "del c"}; !slices.Equal(initial, want) || len(updates) != 0 {
		t.Fatalf("initial %v updates %v, want initial %v and no updates", initial, updates, want)
	}

	put(t, kv, "d", "4")
	put(t, kv, "a", "5")
	if err := kv.Delete(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(context.Background(), "d"); err != nil {
		t.Fatal(err)
	}
	want := []string{"put d", "put a", "del b", "del d"}
	testenv.WaitFor(t, 5*time.Second, "updates", func() bool { _, _, u := r.snapshot(); return len(u) == len(want) })
	view, _, updates = r.snapshot()
	if !slices.Equal(updates, want) || !maps.Equal(view, map[string]string{"a": "5"}) {
		t.Fatalf("updates %v view %v, want %v and a=5", updates, view, want)
	}
	if n := r.count(); n != 1 {
		t.Fatalf("a healthy watch was started again (%d markers)", n)
	}
}

// A healthy watch checked against the server's last revision is left
// alone, also when that revision names a message gone from the bucket (a
// removed delete marker) and when a new watch starts after that.
func TestServerCheckLeavesHealthyWatchAlone(t *testing.T) {
	kv := bucket(t, testenv.NewNATS(t).ClientURL(), "t", 1)
	ctx := context.Background()
	r := newRecorder()
	run(t, New(kv, r.apply, OnCurrent(r.current), WithServerCheck(50*time.Millisecond), WithLag(200*time.Millisecond), WithLog(testLog(t))))
	testenv.WaitFor(t, 5*time.Second, "initial values", func() bool { return r.count() == 1 })
	for i := range 20 {
		put(t, kv, "a", "x")
		if i%3 == 0 {
			if err := kv.Delete(ctx, "a"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	put(t, kv, "b", "1")
	if err := kv.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	// The last revision is now the delete of b; removing the marker leaves
	// the stream's last sequence naming no message.
	if err := kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(-1)); err != nil {
		t.Fatal(err)
	}
	r2 := newRecorder()
	run(t, New(kv, r2.apply, OnCurrent(r2.current), WithServerCheck(50*time.Millisecond), WithLag(200*time.Millisecond), WithLog(testLog(t))))
	testenv.WaitFor(t, 5*time.Second, "second watcher current", func() bool { return r2.count() == 1 })
	time.Sleep(time.Second)
	if n1, n2 := r.count(), r2.count(); n1 != 1 || n2 != 1 {
		t.Fatalf("healthy watches started again: %d and %d markers", n1, n2)
	}
	if _, ok := r2.get("b"); ok {
		t.Fatal("deleted key in the view")
	}
}

// With a quiet limit, a watch that delivers nothing is started again, and
// the new watch delivers the initial values again.
func TestQuietWatchRestarts(t *testing.T) {
	kv := bucket(t, testenv.NewNATS(t).ClientURL(), "t", 1)
	put(t, kv, "a", "1")
	r := newRecorder()
	run(t, New(kv, r.apply, OnCurrent(r.current), WithQuiet(300*time.Millisecond), WithLog(quietLog())))
	took := testenv.WaitFor(t, 5*time.Second, "three watches", func() bool { return r.count() >= 3 })
	t.Logf("three watches after %s", took)
	view, initial, updates := r.snapshot()
	if !maps.Equal(view, map[string]string{"a": "1"}) || len(updates) != 0 || len(initial) < 3 {
		t.Fatalf("view %v initial %v updates %v", view, initial, updates)
	}
}

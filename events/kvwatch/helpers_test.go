package kvwatch

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// recorder is a caller's view of a bucket, kept the way callers keep it:
// initial values collected aside and swapped in at the marker.
type recorder struct {
	mu       sync.Mutex
	pending  map[string]string
	view     map[string]string
	currents int      // markers seen
	initial  []string // "put k" / "del k", applied as initial values
	updates  []string // the same, applied as updates
}

func newRecorder() *recorder {
	return &recorder{pending: map[string]string{}, view: map[string]string{}}
}

func (r *recorder) apply(e jetstream.KeyValueEntry, initial bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	put := e.Operation() == jetstream.KeyValuePut
	op := "put "
	if !put {
		op = "del "
	}
	target := r.view
	if initial {
		target = r.pending
		r.initial = append(r.initial, op+e.Key())
	} else {
		r.updates = append(r.updates, op+e.Key())
	}
	if put {
		target[e.Key()] = string(e.Value())
	} else {
		delete(target, e.Key())
	}
}

func (r *recorder) current() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.view, r.pending = r.pending, map[string]string{}
	r.currents++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.currents
}

func (r *recorder) get(k string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.view[k]
	return v, ok
}

func (r *recorder) snapshot() (view map[string]string, initial, updates []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	view = map[string]string{}
	for k, v := range r.view {
		view[k] = v
	}
	return view, slices.Clone(r.initial), slices.Clone(r.updates)
}

// run runs w until the test ends.
func run(t *testing.T, w *Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func bucket(t *testing.T, url, name string, replicas int) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(testenv.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Retried while a cluster just formed cannot place it yet.
	kv, err := events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: name, History: 1, Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// put writes k=v, waiting out a leader election of the bucket (a request
// lost with the old leader is never answered: each attempt gets 1 s).
func put(t *testing.T, kv jetstream.KeyValue, k, v string) uint64 {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rev, err := kv.Put(ctx, k, []byte(v))
		cancel()
		if err == nil {
			return rev
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("put %s: %v", k, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stuckSetup is a 3-server cluster with an R3 bucket holding k1=v1, and a
// watcher made by mk (on a client that reaches s1 only) running and current,
// whose watch consumer lives on another server: the victim. When the victim
// dies the watch goes silent while s1 and the bucket stay up. other reaches
// the bucket through the third server.
func stuckSetup(t *testing.T, mk func(kv jetstream.KeyValue) (*Watcher, *recorder)) (w *Watcher, r *recorder, victim *server.Server, other jetstream.KeyValue) {
	t.Helper()
	servers := testenv.NewNATSCluster(t, 3)
	admin := bucket(t, servers[0].ClientURL(), "stuck", 3)
	put(t, admin, "k1", "v1")
	for attempt := 0; attempt < 10; attempt++ {
		js, err := jetstream.New(testenv.Connect(t, servers[0].ClientURL()))
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(context.Background(), "stuck")
		if err != nil {
			t.Fatal(err)
		}
		before := testenv.ConsumerServers(t, js, "KV_"+kv.Bucket())
		w, r := mk(kv)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		testenv.WaitFor(t, 10*time.Second, "watcher current", func() bool { return r.count() == 1 })
		for name, host := range testenv.ConsumerServers(t, js, "KV_"+kv.Bucket()) {
			if _, old := before[name]; old || host == servers[0].Name() {
				continue
			}
			t.Cleanup(func() { cancel(); <-done })
			for _, s := range servers[1:] {
				if s.Name() == host {
					victim = s
				} else {
					other = bucket(t, s.ClientURL(), "stuck", 3)
				}
			}
			return w, r, victim, other
		}
		cancel()
		<-done
	}
	t.Fatal("every watch consumer was placed on the watcher's own server")
	return
}

package delivery

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fixture is a private NATS server with the event log and the cursor bucket.
type fixture struct {
	t     *testing.T
	url   string
	store *events.Store
	kv    jetstream.KeyValue
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := testenv.NewNATS(t)
	s, err := events.Open(context.Background(), testenv.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := EnsureBucket(context.Background(), s.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, url: srv.ClientURL(), store: s, kv: kv}
}

// node is the log and the bucket on a connection of their own, for a
// runner whose node dies (its connection closed).
func (f *fixture) node() (*nats.Conn, *events.Store, jetstream.KeyValue) {
	f.t.Helper()
	nc := testenv.Connect(f.t, f.url)
	s, err := events.Open(context.Background(), nc)
	if err != nil {
		f.t.Fatal(err)
	}
	kv, err := EnsureBucket(context.Background(), s.JetStream(), 1)
	if err != nil {
		f.t.Fatal(err)
	}
	return nc, s, kv
}

// device appends the i-th event of dev and returns its sequence.
func (f *fixture) device(dev string, i int) uint64 {
	f.t.Helper()
	env := &pb.Envelope{
		EventId: fmt.Sprintf("%s-%d", dev, i), AggregateKind: events.KindDevice, AggregateId: dev,
		TimeUnixMs: time.Now().UnixMilli(),
		Payload:    &pb.Envelope_DeviceOnline{DeviceOnline: &pb.DeviceOnline{Via: "probe"}},
	}
	env.Type = events.TypeOf(env)
	seq, err := f.store.AppendFact(context.Background(), events.Ref{Shard: events.ShardOf(dev, events.DefaultShards), Kind: events.KindDevice, ID: dev}, env)
	if err != nil {
		f.t.Fatal(err)
	}
	return seq
}

// shard appends an event of no device.
func (f *fixture) shard() uint64 {
	f.t.Helper()
	env := &pb.Envelope{
		EventId: "shard-0", AggregateKind: events.KindShard, AggregateId: "0", TimeUnixMs: time.Now().UnixMilli(),
		Payload: &pb.Envelope_ShardAcquired{ShardAcquired: &pb.ShardAcquired{Node: "n1"}},
	}
	env.Type = events.TypeOf(env)
	seq, err := f.store.AppendFact(context.Background(), events.ShardRef(0), env)
	if err != nil {
		f.t.Fatal(err)
	}
	return seq
}

func (f *fixture) open(key string, start uint64) (*Cursor, uint64) {
	f.t.Helper()
	c, seq, err := OpenCursor(context.Background(), f.kv, key, start)
	if err != nil {
		f.t.Fatal(err)
	}
	return c, seq
}

// saved is the cursor as stored.
func (f *fixture) saved(key string) uint64 {
	f.t.Helper()
	_, seq := f.open(key, 0)
	return seq
}

// running is one Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func (f *fixture) start(o Options) *running {
	if o.Store == nil {
		o.Store = f.store
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, o) }()
	f.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait is what Run returned, failing the test after d.
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("Run still running after %s", d)
		return nil
	}
}

// stop cancels the Run and returns what it returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t, 10*time.Second)
}

// recorder records deliveries and attempts, and checks that no device has
// two deliveries in flight at once.
type recorder struct {
	mu       sync.Mutex
	got      map[string][]uint64 // device → sequences delivered, in order
	when     map[uint64]time.Time
	ids      map[string]int // event id → deliveries
	attempts []Attempt
	inflight map[string]int
	overlap  bool
	cur      int
	peak     int
	calls    int
}

func newRecorder() *recorder {
	return &recorder{got: map[string][]uint64{}, when: map[uint64]time.Time{}, ids: map[string]int{}, inflight: map[string]int{}}
}

// deliver wraps answer with the bookkeeping; a delivery counts when answer says OK.
func (r *recorder) deliver(answer func(ctx context.Context, n payload.Notification, attempt int) Result) func(context.Context, payload.Notification, []byte, int) Result {
	return func(ctx context.Context, n payload.Notification, body []byte, attempt int) Result {
		r.mu.Lock()
		r.calls++
		r.inflight[n.Device]++
		if r.inflight[n.Device] > 1 {
			r.overlap = true
		}
		r.cur++
		r.peak = max(r.peak, r.cur)
		r.mu.Unlock()
		res := answer(ctx, n, attempt)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.inflight[n.Device]--
		r.cur--
		if res.OK {
			r.got[n.Device] = append(r.got[n.Device], n.Seq)
			r.when[n.Seq] = time.Now()
			r.ids[n.ID]++
		}
		return res
	}
}

func (r *recorder) attempt(a Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

// delivered is how many deliveries succeeded.
func (r *recorder) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.got {
		n += len(s)
	}
	return n
}

func (r *recorder) has(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.when[seq]
	return ok
}

func (r *recorder) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// of is the attempts of one event, in order.
func (r *recorder) of(seq uint64) []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Attempt
	for _, a := range r.attempts {
		if a.Seq == seq {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Attempt) int { return a.Attempt - b.Attempt })
	return out
}

func outcomes(as []Attempt) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Outcome
	}
	return out
}

// ok answers every attempt with a 200.
func ok(context.Context, payload.Notification, int) Result { return Result{OK: true, Status: 200} }

// sleep waits d or until ctx ends, answering as a cut-off request would.
func sleep(ctx context.Context, d time.Duration) Result {
	select {
	case <-time.After(d):
		return Result{OK: true, Status: 200}
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
}

// Package worker runs task attempts on slots: `argus worker --group G
// --slots N` as its own process, or in-process slots on a node. Each slot
// pulls one work message at a time from its group's queues (online first;
// some slots serve only the online queue, so a real-time task never waits
// behind offline work), asks the task's actor whether it may start, runs
// the job (work/jobs) renewing its lease, and reports the outcome. The
// worker registers in KV with its group, slots and load.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/work/jobs"
	"github.com/argus-vms/argus/work/queue"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Options of a worker.
type Options struct {
	Queues *queue.Queues
	ID     string // default <host>-<random>
	Group  string // default "default"
	Slots  int    // default 2
	// OnlineSlots are reserved for online tasks (default ReservedFor(Slots)).
	OnlineSlots int
	Env         jobs.Env
	Log         *slog.Logger
	// Heartbeat is how often the registration is written besides every
	// change (default 2 s).
	Heartbeat time.Duration
}

// ReservedFor is the default number of online-only slots of a worker with
// n slots: one in eight, at least one when it has two or more.
func ReservedFor(n int) int {
	if n < 2 {
		return 0
	}
	return max(1, n/8)
}

// Worker is a running worker.
type Worker struct {
	o       Options
	mu      sync.Mutex
	running map[string]*attempt // task id → the attempt a slot runs
	offline int                 // running offline attempts
	done    uint64
	started time.Time
	host    string
}

type attempt struct {
	online bool
	cancel context.CancelCauseFunc
}

// errCanceled and errSuperseded end an attempt's job.
var (
	errCanceled   = errors.New("worker: task canceled")
	errSuperseded = errors.New("worker: attempt superseded")
)

// Run runs the worker until ctx ends. A stopping worker kills its jobs and
// leaves their messages unacknowledged: they go to other slots after the
// lease.
func Run(ctx context.Context, o Options) error {
	if o.Queues == nil {
		return errors.New("worker: no queues")
	}
	if o.Group == "" {
		o.Group = "default"
	}
	if o.Slots <= 0 {
		o.Slots = 2
	}
	if o.OnlineSlots == 0 {
		o.OnlineSlots = ReservedFor(o.Slots)
	}
	o.OnlineSlots = min(max(o.OnlineSlots, 0), o.Slots)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 2 * time.Second
	}
	host, _ := os.Hostname()
	if o.ID == "" {
		o.ID = fmt.Sprintf("%s-%s", host, uuid.NewString()[:8])
	}
	w := &Worker{o: o, running: map[string]*attempt{}, started: time.Now(), host: host}
	online, err := o.Queues.Consumer(ctx, o.Group, queue.Online)
	if err != nil {
		return err
	}
	offline, err := o.Queues.Consumer(ctx, o.Group, queue.Offline)
	if err != nil {
		return err
	}
	sub, err := o.Queues.Conn().Subscribe(queue.CancelAll, func(m *nats.Msg) {
		w.stop(m.Subject[len(queue.CancelSubject("")):], errCanceled)
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	o.Log.Info("worker started", "worker", o.ID, "group", o.Group, "slots", o.Slots, "online_slots", o.OnlineSlots)

	var wg sync.WaitGroup
	for i := range o.Slots {
		wg.Go(func() { w.slot(ctx, i < o.OnlineSlots, online, offline) })
	}
	wg.Go(func() { w.heartbeat(ctx) })
	wg.Wait()
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = o.Queues.WorkerBucket().Delete(dctx, o.ID)
	return nil
}

// slot pulls and runs one message at a time: an online-only slot from the
// online queue; the others from the online queue first, then the offline.
func (w *Worker) slot(ctx context.Context, onlineOnly bool, online, offline jetstream.Consumer) {
	for ctx.Err() == nil {
		msg, isOnline := w.pull(ctx, onlineOnly, online, offline)
		if msg != nil {
			w.run(ctx, msg, isOnline)
		}
	}
}

func (w *Worker) pull(ctx context.Context, onlineOnly bool, online, offline jetstream.Consumer) (jetstream.Msg, bool) {
	if onlineOnly {
		return first(online.Fetch(1, jetstream.FetchMaxWait(2*time.Second))), true
	}
	if m := first(online.FetchNoWait(1)); m != nil {
		return m, true
	}
	if m := first(offline.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))); m != nil {
		return m, false
	}
	if ctx.Err() == nil {
		select { // the queues did not answer at all: do not spin
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil, false
}

func first(b jetstream.MessageBatch, err error) jetstream.Msg {
	if err != nil {
		time.Sleep(200 * time.Millisecond) // the stream is electing a leader, or the connection is down
		return nil
	}
	for m := range b.Messages() {
		return m
	}
	return nil
}

func (w *Worker) stop(id string, cause error) {
	w.mu.Lock()
	a := w.running[id]
	w.mu.Unlock()
	if a != nil {
		a.cancel(cause)
	}
}

func (w *Worker) hold(id string, online bool, cancel context.CancelCauseFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.running[id]; dup {
		return false
	}
	w.running[id] = &attempt{online: online, cancel: cancel}
	if !online {
		w.offline++
	}
	return true
}

func (w *Worker) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a, ok := w.running[id]; ok {
		delete(w.running, id)
		if !a.online {
			w.offline--
		}
		w.done++
	}
}

// info is the worker's registration now.
func (w *Worker) info() *pb.WorkerInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := &pb.WorkerInfo{Id: w.o.ID, Group: w.o.Group, Slots: uint32(w.o.Slots), OnlineSlots: uint32(w.o.OnlineSlots),
		Running: uint32(len(w.running)), RunningOffline: uint32(w.offline), Host: w.host, StartedUnixMs: w.started.UnixMilli(),
		UpdatedUnixMs: time.Now().UnixMilli(), Done: w.done}
	for id := range w.running {
		i.Tasks = append(i.Tasks, id)
	}
	return i
}

// register writes the registration.
func (w *Worker) register(ctx context.Context) {
	b, _ := proto.Marshal(w.info())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := w.o.Queues.WorkerBucket().Put(ctx, w.o.ID, b); err != nil && ctx.Err() == nil {
		w.o.Log.Debug("worker registration not written", "err", err)
	}
}

func (w *Worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.o.Heartbeat)
	defer t.Stop()
	for ctx.Err() == nil {
		w.register(ctx)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// Package scheduler is the offline scheduler: it moves queued offline
// tasks from the backlog to their group's offline work queue as slots free
// up, in fair-share order (see fair.go). Online tasks never wait for it:
// their actors put them on the online queue directly.
//
// One node runs it at a time (the owner of shard 0). Its state is the
// backlog bucket and the workers' registrations, both in KV, so the next
// node to run it starts from what is there, and a task dispatched but not
// yet removed from the backlog is published again under the same message
// id (one message).
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/kvwatch"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/work/queue"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Options of Run.
type Options struct {
	Queues *queue.Queues
	Log    *slog.Logger
	// Tick is how often it looks for free slots besides every change
	// (default 250 ms).
	Tick time.Duration
}

// Scheduler is one run of the offline scheduler.
type Scheduler struct {
	o       Options
	mu      sync.Mutex
	groups  map[string]*fairQueue
	workers map[string]*pb.WorkerInfo
	kick    chan struct{}
}

// Run schedules until ctx ends.
func Run(ctx context.Context, o Options) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	s := &Scheduler{o: o, groups: map[string]*fairQueue{}, workers: map[string]*pb.WorkerInfo{}, kick: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	wg.Go(func() { s.watchBacklog(ctx) })
	wg.Go(func() { s.watchWorkers(ctx) })
	t := time.NewTicker(o.Tick)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-s.kick:
		}
		if ctx.Err() == nil {
			s.dispatch(ctx)
		}
	}
	wg.Wait()
}

func (s *Scheduler) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// watchBacklog keeps the fair queues in step with the backlog bucket.
func (s *Scheduler) watchBacklog(ctx context.Context) {
	var fresh map[string]*fairQueue
	kvwatch.New(s.o.Queues.BacklogBucket(), func(e jetstream.KeyValueEntry, initial bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		groups := s.groups
		if initial {
			if fresh == nil {
				fresh = map[string]*fairQueue{}
			}
			groups = fresh
		}
		s.applyBacklog(groups, e)
	}, kvwatch.WithLog(s.o.Log), kvwatch.WithServerCheck(2*time.Second), kvwatch.OnCurrent(func() {
		s.mu.Lock()
		if fresh == nil {
			fresh = map[string]*fairQueue{}
		}
		s.groups, fresh = fresh, nil
		s.mu.Unlock()
		s.poke()
	})).Run(ctx)
}

func (s *Scheduler) applyBacklog(groups map[string]*fairQueue, e jetstream.KeyValueEntry) {
	w := &pb.TaskWork{}
	if e.Operation() != jetstream.KeyValuePut {
		id := idOf(e.Key())
		for _, q := range groups {
			q.remove(id)
		}
		return
	}
	if err := proto.Unmarshal(e.Value(), w); err != nil || w.Spec == nil {
		s.o.Log.Warn("scheduler: unreadable backlog entry", "key", e.Key(), "err", err)
		return
	}
	q := groups[w.Spec.Group]
	if q == nil {
		q = newFairQueue()
		groups[w.Spec.Group] = q
	}
	q.add(&entry{key: e.Key(), work: w, priority: w.Spec.Priority, rev: e.Revision()})
	s.poke()
}

// idOf is the task id of a backlog key "<group>.<id>".
func idOf(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			return key[i+1:]
		}
	}
	return key
}

// watchWorkers keeps the workers' registrations.
func (s *Scheduler) watchWorkers(ctx context.Context) {
	var fresh map[string]*pb.WorkerInfo
	kvwatch.New(s.o.Queues.WorkerBucket(), func(e jetstream.KeyValueEntry, initial bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		workers := s.workers
		if initial {
			if fresh == nil {
				fresh = map[string]*pb.WorkerInfo{}
			}
			workers = fresh
		}
		if e.Operation() != jetstream.KeyValuePut {
			delete(workers, e.Key())
			return
		}
		w := &pb.WorkerInfo{}
		if proto.Unmarshal(e.Value(), w) == nil {
			workers[e.Key()] = w
		}
		s.poke()
	}, kvwatch.WithLog(s.o.Log), kvwatch.WithQuiet(2*queue.WorkerTTL), kvwatch.OnCurrent(func() {
		s.mu.Lock()
		if fresh == nil {
			fresh = map[string]*pb.WorkerInfo{}
		}
		s.workers, fresh = fresh, nil
		s.mu.Unlock()
		s.poke()
	})).Run(ctx)
}

// free is how many more offline tasks a group's live workers can take
// now, plus one spare per worker so that a slot that frees up finds the
// next task waiting rather than waiting for the scheduler.
func (s *Scheduler) free(group string, now time.Time) int {
	n := 0
	for _, w := range s.workers {
		if w.Group != group || now.Sub(time.UnixMilli(w.UpdatedUnixMs)) > queue.WorkerTTL {
			continue
		}
		n += int(w.Slots) - int(w.OnlineSlots) - int(w.RunningOffline) + 1
	}
	return n
}

// dispatch moves as many tasks of each group as it has room for.
func (s *Scheduler) dispatch(ctx context.Context) {
	s.mu.Lock()
	var groups []string
	for g, q := range s.groups {
		if q.len() > 0 {
			groups = append(groups, g)
		}
	}
	s.mu.Unlock()
	for _, g := range groups {
		waiting, err := s.o.Queues.Waiting(ctx, g, queue.Offline)
		if err != nil {
			s.o.Log.Warn("scheduler: offline queue not read", "group", g, "err", err)
			continue
		}
		s.mu.Lock()
		room := s.free(g, time.Now()) - waiting
		s.mu.Unlock()
		for ; room > 0; room-- {
			s.mu.Lock()
			e := s.groups[g].next()
			s.mu.Unlock()
			if e == nil {
				break
			}
			if err := s.move(ctx, e); err != nil {
				if !errors.Is(err, context.Canceled) {
					s.o.Log.Warn("scheduler: task not moved to the offline queue", "task", e.work.Id, "err", err)
				}
				break
			}
		}
	}
}

// move publishes a backlog entry to the offline queue, then removes it
// from the backlog.
func (s *Scheduler) move(ctx context.Context, e *entry) error {
	if err := s.o.Queues.Publish(ctx, e.work); err != nil {
		return err
	}
	s.mu.Lock()
	if q := s.groups[e.work.Spec.Group]; q != nil {
		q.remove(e.work.Id)
	}
	s.mu.Unlock()
	if err := s.o.Queues.BacklogBucket().Delete(ctx, e.key, jetstream.LastRevision(e.rev)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		s.o.Log.Debug("scheduler: backlog entry not removed", "key", e.key, "err", err)
	}
	return nil
}

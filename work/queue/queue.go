// Package queue is how tasks reach worker slots: a JetStream work-queue
// stream with one online and one offline subject per worker group, the
// offline backlog the scheduler feeds the offline subject from, the
// workers' registrations, and the cancel signal.
//
// A work message is delivered to one slot at a time and stays in the
// stream until that slot acks it. The slot holds it as its lease: it
// renews it with in-progress acks while ffmpeg runs; a killed worker stops
// renewing and, after AckWait, the message goes to another slot (the
// attempt number is its delivery count). The task's actor decides whether
// an attempt may start, so a redelivered or duplicate message is harmless.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Names in NATS.
const (
	StreamName    = "ARGUS_WORK"
	Prefix        = "argus.work"
	cancelPrefix  = "argus.workctl.cancel"
	BacklogBucket = "argus_backlog"
	WorkersBucket = "argus_workers"
	// ReportSubject is where worker slots send their reports (start,
	// progress, result); every node answers in one queue group and routes
	// the report to the task's actor.
	ReportSubject = "argus.workctl.report"
	ReportGroup   = "argus-nodes"
)

// Queues of the work stream.
const (
	Online  = "online"
	Offline = "offline"
)

// DefaultLease is how long a slot holds a work message between renewals
// before it goes to another slot.
const DefaultLease = 15 * time.Second

// WorkerTTL is how long a worker's registration outlives its last
// heartbeat.
const WorkerTTL = 15 * time.Second

// Subject is the work subject of a group's queue.
func Subject(group, queue string) string { return Prefix + "." + group + "." + queue }

// CancelSubject is where a task's cancel is announced to the workers.
func CancelSubject(id string) string { return cancelPrefix + "." + id }

// CancelAll is the subscription to every cancel.
const CancelAll = cancelPrefix + ".*"

// Queues is the work stream and its buckets.
type Queues struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	backlog jetstream.KeyValue
	workers jetstream.KeyValue
	lease   time.Duration
}

// Options of Open.
type Options struct {
	Replicas int
	Lease    time.Duration // default DefaultLease
	// Create: make the stream and buckets when missing (a node); a worker
	// only opens what the nodes made.
	Create bool
}

// Open opens (or creates) the work stream and its buckets.
func Open(ctx context.Context, nc *nats.Conn, o Options) (*Queues, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	q := &Queues{nc: nc, js: js, lease: o.Lease}
	if q.lease <= 0 {
		q.lease = DefaultLease
	}
	replicas := max(o.Replicas, 1)
	if o.Create {
		q.stream, err = events.EnsureStream(ctx, js, jetstream.StreamConfig{
			Name:        StreamName,
			Description: "Argus work queues: tasks waiting for a worker slot, per group and queue",
			Subjects:    []string{Prefix + ".*." + Online, Prefix + ".*." + Offline},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  10 * time.Minute,
		})
		if err == nil {
			q.backlog, err = events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: BacklogBucket, History: 1,
				Description: "Argus offline backlog: queued offline tasks the scheduler has not dispatched yet", Storage: jetstream.FileStorage, Replicas: replicas})
		}
		if err == nil {
			q.workers, err = events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: WorkersBucket, History: 1, TTL: WorkerTTL,
				Description: "Argus workers: each worker's group, slots and load", Storage: jetstream.MemoryStorage, Replicas: replicas})
		}
	} else {
		q.stream, err = events.Retry(ctx, "work stream", func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, StreamName) })
		if err == nil {
			q.backlog, err = js.KeyValue(ctx, BacklogBucket)
		}
		if err == nil {
			q.workers, err = js.KeyValue(ctx, WorkersBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("work queues: %w", err)
	}
	return q, nil
}

// Lease is the ack wait of the work consumers.
func (q *Queues) Lease() time.Duration { return q.lease }

// Conn is the NATS connection the queues use.
func (q *Queues) Conn() *nats.Conn { return q.nc }

// WorkerBucket is the bucket of worker registrations.
func (q *Queues) WorkerBucket() jetstream.KeyValue { return q.workers }

// BacklogBucket is the offline backlog bucket.
func (q *Queues) BacklogBucket() jetstream.KeyValue { return q.backlog }

// Dispatch puts a queued task where a slot will find it: an online task on
// its group's online queue at once, an offline one in the backlog (the
// scheduler moves it to the offline queue in fair-share order). Both are
// idempotent per task.
func (q *Queues) Dispatch(ctx context.Context, w *pb.TaskWork) error {
	b, err := proto.Marshal(w)
	if err != nil {
		return err
	}
	if w.GetSpec().GetQueue() == Online {
		return q.publish(ctx, w, b)
	}
	_, err = q.backlog.Put(ctx, BacklogKey(w.Spec.Group, w.Id), b)
	return err
}

// BacklogKey is an offline task's entry in the backlog.
func BacklogKey(group, id string) string { return group + "." + id }

// Publish sends a work message to its group's queue (the scheduler's move
// of an offline task, or an online dispatch). The task id is the message
// id: publishing a task twice within the duplicate window is one message.
func (q *Queues) Publish(ctx context.Context, w *pb.TaskWork) error {
	b, err := proto.Marshal(w)
	if err != nil {
		return err
	}
	return q.publish(ctx, w, b)
}

func (q *Queues) publish(ctx context.Context, w *pb.TaskWork, b []byte) error {
	_, err := q.js.Publish(ctx, Subject(w.Spec.Group, w.Spec.Queue), b, jetstream.WithMsgID(w.Id))
	return err
}

// Consumer is the durable consumer of a group's queue, shared by every
// slot of the group: each slot pulls one message when it is free.
func (q *Queues) Consumer(ctx context.Context, group, queue string) (jetstream.Consumer, error) {
	if !events.ValidID(group) || (queue != Online && queue != Offline) {
		return nil, errors.New("queue: bad group or queue")
	}
	return q.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       group + "-" + queue,
		FilterSubject: Subject(group, queue),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.lease,
		MaxDeliver:    -1, // the task's actor counts attempts and decides the dead letter
		MaxAckPending: 100000,
		// A redelivery after a failed attempt waits a little (Nak with delay).
		InactiveThreshold: 0,
	})
}

// Waiting is how many messages of a group's queue no slot holds yet.
func (q *Queues) Waiting(ctx context.Context, group, queue string) (int, error) {
	c, err := q.js.Consumer(ctx, StreamName, group+"-"+queue)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		// no slot of the group ever pulled: count the stream's messages
		info, err := q.stream.Info(ctx, jetstream.WithSubjectFilter(Subject(group, queue)))
		if err != nil {
			return 0, err
		}
		return int(info.State.Subjects[Subject(group, queue)]), nil
	}
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.NumPending), nil
}

// Cancel tells the workers a task is canceled (core NATS: a worker that
// misses it learns at its next report).
func (q *Queues) Cancel(id string) { _ = q.nc.Publish(CancelSubject(id), nil) }

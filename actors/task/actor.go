package task

import (
	"context"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/hook"
	"google.golang.org/protobuf/proto"
)

// Deps are what every task actor on a node shares.
type Deps struct {
	Store    *events.Store
	Node     string
	Log      *slog.Logger
	Sealer   *secret.Sealer
	OnFenced func(events.Term)
	// Dispatch puts a queued task's work where a worker slot finds it (the
	// online queue, or the offline backlog the scheduler feeds the offline
	// queue from). It is idempotent per task; nil: tasks stay queued.
	Dispatch func(ctx context.Context, w *pb.TaskWork) error
	// Canceled tells the workers that a task is canceled (they stop its
	// process at once rather than at their next report).
	Canceled func(id string)
	// Hooks delivers callbacks (nil: callback_url is recorded but not called).
	Hooks func(*slog.Logger) hook.Deps
	// AllowPrivate lets callback URLs target private networks.
	AllowPrivate bool
	// ProgressEvery spaces task.progress events (default 2 s).
	ProgressEvery time.Duration
	Directory     *aggregate.Directory[*pb.TaskView]
}

// Ask carries a command from this node's router with a reply channel.
type Ask struct {
	Cmd   proto.Message
	Reply chan *pb.TaskReply
}

// Done tells the task's shard actor that the task is over and its
// callbacks delivered: the actor can go (a finished task is read from the
// log).
type Done struct{ ID string }

// Snapshot asks for the task's state (the shard's snapshot).
type Snapshot struct{ Reply chan State }

type (
	redispatch       struct{}
	restartCallbacks struct{}
	callbacksDone    struct{ gen int }
	callbackEnded    struct {
		gen int
		err error
	}
)

// Actor hosts one task while it is queued or running, and until its
// callbacks are delivered.
type Actor struct {
	deps     *Deps
	ref      events.Ref
	w        aggregate.Writer
	state    State
	engine   *actor.Engine
	self     *actor.PID
	parent   *actor.PID
	dispatch backoff.Backoff
	hook     context.CancelFunc // callbacks under way
	gen      int
	done     bool
}

// New returns the producer of a task's actor; st is its folded state (nil:
// a new task).
func New(deps *Deps, term events.Term, id string, st *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, ref: events.Ref{Shard: term.Shard, Kind: events.KindTask, ID: id},
			dispatch: backoff.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}}
		a.w = aggregate.Writer{Store: deps.Store, Ref: a.ref, Term: term, Node: deps.Node, Known: true, OnFenced: deps.OnFenced}
		if st != nil {
			a.state = *st
			a.w.Version, a.w.LastSeq = st.Version, st.LastSeq
		}
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.engine, a.self, a.parent = c.Engine(), c.PID(), c.Parent()
		a.publish()
		if a.state.Status == Queued && a.state.Attempts == 0 {
			a.sendWork() // it may not have reached the queue before the last owner stopped
		}
		a.syncCallbacks()
	case actor.Stopped:
		a.stopCallbacks()
		a.deps.Directory.Put(a.ref.ID, nil, false)
	case *Ask:
		if m.Reply == nil {
			break
		}
		reply, cmd := m.Reply, m.Cmd
		m.Cmd, m.Reply = nil, nil
		reply <- a.decide(cmd)
	case *Snapshot:
		m.Reply <- a.state
	case redispatch:
		if a.state.Status == Queued && a.state.Attempts == 0 {
			a.sendWork()
		}
	case restartCallbacks:
		a.syncCallbacks()
	case callbacksDone:
		if m.gen == a.gen {
			a.stopCallbacks()
			a.finish()
		}
	case callbackEnded:
		if m.gen == a.gen {
			a.hook = nil
			a.logger().Warn("task callbacks stopped; starting again", "task", a.ref.ID, "err", m.err)
			engine, self := a.engine, a.self
			time.AfterFunc(5*time.Second, func() { engine.Send(self, restartCallbacks{}) })
		}
	case proto.Message: // from another node's router
		if r := a.decide(m); r != nil {
			c.Respond(r)
		}
	}
}

func (a *Actor) decide(cmd proto.Message) *pb.TaskReply {
	switch m := cmd.(type) {
	case *pb.SubmitTask:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) {
			return DecideSubmit(&a.state, m, a.deps.AllowPrivate, a.deps.Sealer.Seal)
		})
	case *pb.CancelTask:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideCancel(&a.state, m) })
	case *pb.ReportTask:
		every := a.deps.ProgressEvery
		if every == 0 {
			every = 2 * time.Second
		}
		r := a.handle(nil, func() (*pb.Envelope, *aggregate.Rejection) { return DecideReport(&a.state, m, time.Now(), every) })
		r.Stop = !a.state.Holds(m)
		return r
	case *pb.GetTask:
		if !a.state.Exists() {
			return reply(notFound())
		}
		return &pb.TaskReply{Task: a.state.View()}
	}
	return nil
}

// handle runs a decision through the decide → append → apply loop.
func (a *Actor) handle(meta *pb.CommandMeta, decide func() (*pb.Envelope, *aggregate.Rejection)) *pb.TaskReply {
	_, err := a.w.Run(context.Background(), meta, aggregate.Decide(decide), a.apply)
	if rej := aggregate.Outcome(err); rej != nil {
		if rej.Code == pb.ReplyCode_REPLY_CODE_UNAVAILABLE {
			a.logger().Warn("task append failed", "task", a.ref.ID, "err", err)
		}
		return reply(rej)
	}
	return &pb.TaskReply{Task: a.state.View()}
}

func (a *Actor) apply(e events.Event) {
	a.state.Apply(e)
	a.publish()
	switch e.Envelope.Payload.(type) {
	case *pb.Envelope_TaskSubmitted:
		a.sendWork()
		a.syncCallbacks()
	case *pb.Envelope_TaskCanceled:
		if a.deps.Canceled != nil {
			a.deps.Canceled(a.ref.ID)
		}
	}
	if a.state.Terminal() && a.hook == nil {
		a.finish()
	}
}

// sendWork dispatches the queued task, trying again with backoff while
// the work queue does not answer.
func (a *Actor) sendWork() {
	if a.deps.Dispatch == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.deps.Dispatch(ctx, a.state.Work()); err != nil {
		d := a.dispatch.Next()
		a.logger().Warn("task not dispatched; trying again", "task", a.ref.ID, "err", err, "in", d)
		engine, self := a.engine, a.self
		time.AfterFunc(d, func() { engine.Send(self, redispatch{}) })
		return
	}
	a.dispatch.Reset()
}

// CursorKey is a task's callback cursor in the delivery bucket.
func CursorKey(id string) string { return "task." + id }

// syncCallbacks delivers the task's events to its callback_url (a one-task
// webhook), from its submission, until its last event is delivered or
// given up on.
func (a *Actor) syncCallbacks() {
	if a.hook != nil || a.state.CallbackURL == "" || a.deps.Hooks == nil || a.self == nil {
		return
	}
	a.gen++
	ctx, cancel := context.WithCancel(context.Background())
	a.hook = cancel
	gen, engine, self := a.gen, a.engine, a.self
	st := a.state
	log := a.logger().With("task", a.ref.ID)
	deps := a.deps.Hooks(log)
	go func() {
		if st.Terminal() {
			// Its last event may be delivered already (an actor started
			// again after a restart): then there is nothing to wait for.
			if _, at, err := delivery.OpenCursor(ctx, deps.Cursors, CursorKey(st.ID), st.CreatedSeq-1); err == nil && at >= st.LastSeq {
				engine.Send(self, callbacksDone{gen: gen})
				return
			}
		}
		err := hook.Run(ctx, deps, hook.Target{CursorKey: CursorKey(st.ID), URL: st.CallbackURL, Sealed: st.SealedSecret,
			Filters: []string{a.ref.Subject()}, After: st.CreatedSeq - 1, Concurrency: 1,
			OnAttempt: func(at delivery.Attempt) {
				if at.Outcome != delivery.Retrying && terminalType(at.Type) {
					engine.Send(self, callbacksDone{gen: gen})
				}
			},
			OnGone: func() { engine.Send(self, callbacksDone{gen: gen}) },
		})
		if ctx.Err() == nil && err != nil {
			engine.Send(self, callbackEnded{gen: gen, err: err})
		}
	}()
}

// terminalType reports the event types that end a task.
func terminalType(t string) bool {
	return t == "task.succeeded" || t == "task.failed" || t == "task.canceled"
}

func (a *Actor) stopCallbacks() {
	if a.hook != nil {
		a.hook()
		a.hook = nil
	}
	a.gen++
}

// finish hands the finished task back to its shard actor (once).
func (a *Actor) finish() {
	if a.done || a.parent == nil || !a.state.Terminal() || a.hook != nil {
		return
	}
	a.done = true
	a.engine.Send(a.parent, &Done{ID: a.ref.ID})
}

func (a *Actor) publish() {
	a.deps.Directory.Put(a.ref.ID, a.state.View(), a.state.Exists() && !a.state.Terminal())
}

func (a *Actor) logger() *slog.Logger {
	if a.deps.Log != nil {
		return a.deps.Log
	}
	return slog.Default()
}

func reply(r *aggregate.Rejection) *pb.TaskReply {
	return &pb.TaskReply{Code: r.Code, Field: r.Field, Detail: r.Detail}
}

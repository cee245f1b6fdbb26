package device

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
)

// Deps are what every device actor on a node shares.
type Deps struct {
	Store         *events.Store
	Sealer        *secret.Sealer
	Node          string
	Directory     *Directory
	AppendTimeout time.Duration // per event; default 5s
	Log           *slog.Logger
}

// Actor hosts one device aggregate. It decides commands against its state,
// appends the resulting event with the expected last sequence (so a second
// writer anywhere in the cluster loses), applies it on ack, then replies.
type Actor struct {
	deps   *Deps
	ref    events.Ref
	state  State
	loaded bool
}

// New returns the producer of a device actor. A non-nil state was folded by
// the shard's activation scan; nil means the actor loads its own history.
func New(deps *Deps, ref events.Ref, state *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, ref: ref}
		if state != nil {
			a.state, a.loaded = *state, true
		}
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if !a.loaded {
			a.catchUp() // after a restart (panic) the producer's state is stale
		}
	case *pb.GetDevice:
		if !a.state.Registered {
			c.Respond(reply(notFound, nil))
			return
		}
		c.Respond(&pb.DeviceReply{Device: a.state.View()})
	case *pb.RegisterDevice:
		a.handle(c, "register", func() (*pb.Envelope, *Rejection) {
			ev, rej := DecideRegister(&a.state, m, a.deps.Sealer.Seal)
			if rej != nil {
				return nil, rej
			}
			return &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: ev}}, nil
		}, m.Meta)
	case *pb.UpdateDevice:
		a.handle(c, "update", func() (*pb.Envelope, *Rejection) {
			return DecideUpdate(&a.state, m, a.deps.Sealer.Seal)
		}, m.Meta)
	case *pb.RemoveDevice:
		a.handle(c, "remove", func() (*pb.Envelope, *Rejection) {
			ev, rej := DecideRemove(&a.state, m)
			if rej != nil {
				return nil, rej
			}
			return &pb.Envelope{Payload: &pb.Envelope_DeviceRemoved{DeviceRemoved: ev}}, nil
		}, m.Meta)
	}
}

// handle runs decide → append → apply → reply. On a conflict (another writer
// appended first) it catches up from the log and decides once more.
func (a *Actor) handle(c *actor.Context, name string, decide func() (*pb.Envelope, *Rejection), meta *pb.CommandMeta) {
	for attempt := 0; ; attempt++ {
		env, rej := decide()
		if rej != nil {
			commandsTotal.WithLabelValues(name, rej.Code.String()).Inc()
			c.Respond(reply(rej, nil))
			return
		}
		if env == nil { // nothing to change
			commandsTotal.WithLabelValues(name, "noop").Inc()
			c.Respond(&pb.DeviceReply{Device: a.state.View()})
			return
		}
		err := a.append(env, meta)
		switch {
		case err == nil:
			commandsTotal.WithLabelValues(name, "ok").Inc()
			c.Respond(&pb.DeviceReply{Device: a.state.View()})
			return
		case errors.Is(err, events.ErrConflict) && attempt == 0:
			a.catchUp()
			continue
		case errors.Is(err, events.ErrConflict):
			commandsTotal.WithLabelValues(name, "conflict").Inc()
			c.Respond(reply(&Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "a concurrent writer changed the device; retry"}, nil))
			return
		default:
			commandsTotal.WithLabelValues(name, "unavailable").Inc()
			a.log().Warn("append failed", "device", a.ref.ID, "err", err)
			c.Respond(reply(&Rejection{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: "event log unavailable; retry"}, nil))
			return
		}
	}
}

func (a *Actor) append(env *pb.Envelope, meta *pb.CommandMeta) error {
	env.EventId = uuid.NewString()
	env.Type = events.TypeOf(env)
	env.AggregateKind = a.ref.Kind
	env.AggregateId = a.ref.ID
	env.Version = a.state.Version + 1
	env.TimeUnixMs = time.Now().UnixMilli()
	env.Node = a.deps.Node
	if meta != nil {
		env.CausationId, env.CorrelationId = meta.CommandId, meta.CorrelationId
	}
	timeout := a.deps.AppendTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	seq, err := a.deps.Store.Append(ctx, a.ref, env, a.state.LastSeq)
	appendSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	a.apply(events.Event{Seq: seq, Subject: a.ref.Subject(), Envelope: env})
	return nil
}

func (a *Actor) apply(e events.Event) {
	a.state.Apply(e)
	if a.deps.Directory != nil {
		a.deps.Directory.Put(a.state.View())
	}
}

// catchUp folds every event after the last one applied.
func (a *Actor) catchUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := a.deps.Store.Load(ctx, a.ref, a.state.LastSeq)
	if err != nil {
		a.log().Warn("load history failed", "device", a.ref.ID, "err", err)
		return
	}
	for _, e := range evs {
		a.apply(e)
	}
	a.loaded = true
}

func (a *Actor) log() *slog.Logger {
	if a.deps.Log != nil {
		return a.deps.Log
	}
	return slog.Default()
}

func reply(r *Rejection, v *pb.DeviceView) *pb.DeviceReply {
	return &pb.DeviceReply{Code: r.Code, Field: r.Field, Detail: r.Detail, Device: v}
}

var _ proto.Message = (*pb.DeviceReply)(nil)

package device

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"google.golang.org/protobuf/proto"
)

// Deps are what every device actor on a node shares.
type Deps struct {
	Store     *events.Store
	Sealer    *secret.Sealer
	Node      string
	Directory *Directory
	Log       *slog.Logger
	// Probe checks a camera; nil disables probes (status then follows pulls).
	Probe ProbeFunc
	// ProbeSlots bounds concurrent probes on the node (nil: unbounded).
	ProbeSlots chan struct{}
	// OnRemoved is called after a device's removal is durable, so the host
	// stops what depends on it (its streams).
	OnRemoved func(deviceID string)
	// OnFenced is called when an append finds that the shard's term ended
	// (another node acquired it), so the host stops the shard here.
	OnFenced func(events.Term)
	// CameraWatch follows ONVIF cameras' events while their device is
	// hosted here (nil: camera events are not followed).
	CameraWatch CameraWatch
	// Alarm passes an alarm command (pb.RaiseAlarm, pb.EndAlarm) to its
	// slot without waiting (nil: devices raise no alarms).
	Alarm func(cmd proto.Message)
	// Motion runs Argus's motion detection on a channel (nil: none).
	Motion MotionWatch
	// OfflineAlarmAfter: a device offline this long raises an "offline"
	// alarm, cleared when it is back online (0: no offline alarms).
	OfflineAlarmAfter time.Duration
}

// Actor hosts one device aggregate. It decides commands against its state,
// appends the resulting event with the expected last sequence (so a second
// writer anywhere in the cluster loses), applies it on ack, then replies.
type Actor struct {
	deps    *Deps
	ref     events.Ref
	w       aggregate.Writer
	state   State
	view    *pb.DeviceView // immutable view of state, shared by replies and the directory
	loaded  bool
	probing bool
	// targetChanged: the camera's address or credentials changed (or it was
	// just registered), so its status is checked now rather than next round.
	targetChanged bool
	watch         watch        // the camera event watch (camevents.go)
	offline       offlineTimer // the offline alarm's timer (alarms.go)
	engine        *actor.Engine
	self          *actor.PID
	motion        map[uint32]*detector // motion detection per channel (motion.go)
}

// New returns the producer of a device actor that writes in the shard's
// ownership term. A non-nil state was folded by the shard's activation
// scan; nil means the actor loads its own history.
func New(deps *Deps, ref events.Ref, term events.Term, state *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, ref: ref}
		a.w = aggregate.Writer{Store: deps.Store, Ref: ref, Term: term, Node: deps.Node, Known: true, OnFenced: deps.OnFenced}
		if state != nil {
			a.state, a.loaded = *state, true
			a.w.Version, a.w.LastSeq = state.Version, state.LastSeq
			a.view = a.state.View()
		}
		return a
	}
}

// Ask carries a command from this node's router with a reply channel: the
// local fast path that skips a temporary responder actor per request.
// Commands from other nodes arrive bare (protobuf only) and are answered
// with Respond.
type Ask struct {
	Cmd   proto.Message
	Reply chan *pb.DeviceReply // buffered, capacity 1
}

// Snapshot asks for the actor's state (the shard's snapshot): it answers
// after the message it is handling, so the state includes every event it
// appended before.
type Snapshot struct{ Reply chan State }

// ID is the device the command is for.
func (a *Ask) ID() string {
	if c, ok := a.Cmd.(interface{ GetId() string }); ok {
		return c.GetId()
	}
	return ""
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if !a.loaded {
			a.catchUp() // after a restart (panic) the producer's state is stale
		} else if a.state.Registered && a.deps.Directory != nil {
			a.deps.Directory.Put(a.view)
		}
		a.engine, a.self = c.Engine(), c.PID()
		a.syncWatch(c)
		a.armOffline()
		a.raiseCameraOn()
		a.syncMotion()
	case actor.Stopped:
		a.stopWatch()
		a.stopMotion()
		a.offline.stop()
		if a.deps.Directory != nil { // its shard stopped here: another node lists it now
			a.deps.Directory.Forget(a.ref.ID)
		}
	case cameraEventMsg:
		if m.gen == a.watch.gen && a.watch.cancel != nil {
			a.handle("camera_event", func() (*pb.Envelope, *Rejection) { return DecideCameraEvent(&a.state, m.ev), nil }, nil)
		}
	case *Ask:
		if m.Reply == nil { // answered already (redelivered after a restart)
			break
		}
		reply := m.Reply
		cmd := m.Cmd
		// hollywood keeps an actor's last message until its next one: drop
		// what this one references, or every idle device holds its last
		// command, reply and channel (GC mark work for nothing). The asker
		// kept its own copy of the channel.
		m.Cmd, m.Reply = nil, nil
		reply <- a.decide(cmd)
		a.probeIfChanged(c)
		a.syncWatch(c)
	case Probe:
		a.startProbe(c)
	case probeDone:
		a.probing = false
		if m.err != nil {
			a.setStatus(false, m.err.Error())
		} else {
			a.setStatus(true, "probe")
		}
	case offlineDue:
		a.offlineDue(m)
	case *Target:
		m.Reply <- a.target()
	case *Snapshot:
		m.Reply <- a.state
	case PullUp:
		a.setStatus(true, "pull")
	case PullDown:
		a.startProbe(c)
	case proto.Message:
		if r := a.decide(m); r != nil {
			c.Respond(r)
		}
		a.probeIfChanged(c)
		a.syncWatch(c)
	}
}

// decide answers one command: reads straight from state, writes through
// decide → append → apply.
func (a *Actor) decide(cmd proto.Message) *pb.DeviceReply {
	switch m := cmd.(type) {
	case *pb.GetDevice:
		if !a.state.Registered {
			return reply(notFound, nil)
		}
		return &pb.DeviceReply{Device: a.currentView()}
	case *pb.RegisterDevice:
		return a.handle("register", func() (*pb.Envelope, *Rejection) {
			ev, rej := DecideRegister(&a.state, m, a.deps.Sealer.Seal)
			if rej != nil {
				return nil, rej
			}
			return &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: ev}}, nil
		}, m.Meta)
	case *pb.UpdateDevice:
		return a.handle("update", func() (*pb.Envelope, *Rejection) {
			return DecideUpdate(&a.state, m, a.deps.Sealer.Seal)
		}, m.Meta)
	case *pb.RefreshOnvif:
		return a.handle("refresh", func() (*pb.Envelope, *Rejection) {
			return DecideRefresh(&a.state, m)
		}, m.Meta)
	case *pb.RecordPtz:
		return a.handle("ptz", func() (*pb.Envelope, *Rejection) {
			return DecidePTZ(&a.state, m)
		}, m.Meta)
	case *pb.SetMotion:
		return a.handle("motion", func() (*pb.Envelope, *Rejection) {
			return DecideMotion(&a.state, m)
		}, m.Meta)
	case *pb.RemoveDevice:
		return a.handle("remove", func() (*pb.Envelope, *Rejection) {
			ev, rej := DecideRemove(&a.state, m)
			if rej != nil {
				return nil, rej
			}
			return &pb.Envelope{Payload: &pb.Envelope_DeviceRemoved{DeviceRemoved: ev}}, nil
		}, m.Meta)
	}
	return nil
}

// handle runs the command through the aggregate's decide → append → apply
// loop and returns the reply.
func (a *Actor) handle(name string, decide func() (*pb.Envelope, *Rejection), meta *pb.CommandMeta) *pb.DeviceReply {
	start := time.Now()
	_, err := a.w.Run(context.Background(), meta, aggregate.Decide(decide), a.apply)
	var rej *Rejection
	switch {
	case err == nil:
		appendSeconds.Observe(time.Since(start).Seconds())
		commandsTotal.WithLabelValues(name, "ok").Inc()
		return &pb.DeviceReply{Device: a.currentView()}
	case errors.As(err, &rej):
		commandsTotal.WithLabelValues(name, rej.Code.String()).Inc()
		return reply(rej, nil)
	case errors.Is(err, aggregate.ErrNothing):
		commandsTotal.WithLabelValues(name, "noop").Inc()
		return &pb.DeviceReply{Device: a.currentView()}
	case errors.Is(err, events.ErrFenced):
		commandsTotal.WithLabelValues(name, "fenced").Inc()
		return reply(&Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "the shard moved to another node"}, nil)
	case errors.Is(err, events.ErrConflict):
		commandsTotal.WithLabelValues(name, "conflict").Inc()
		return reply(&Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "a concurrent writer changed the device; retry"}, nil)
	default:
		commandsTotal.WithLabelValues(name, "unavailable").Inc()
		a.log().Warn("append failed", "device", a.ref.ID, "err", err)
		return reply(&Rejection{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: "event log unavailable; retry"}, nil)
	}
}

func (a *Actor) apply(e events.Event) {
	switch p := e.Envelope.Payload.(type) {
	case *pb.Envelope_DeviceRegistered, *pb.Envelope_DeviceCredentialsChanged:
		a.targetChanged = true
	case *pb.Envelope_DeviceUpdated:
		a.targetChanged = a.targetChanged || p.DeviceUpdated.Url != nil || p.DeviceUpdated.Credentials != nil
	}
	wasRegistered := a.state.Registered
	before := a.state.Status
	offlineSince := a.state.StatusAt
	a.state.Apply(e)
	if a.loaded {
		a.alarmOn(e, before == StatusOffline, offlineSince)
	}
	if wasRegistered && !a.state.Registered && a.deps.OnRemoved != nil && a.loaded {
		a.deps.OnRemoved(a.ref.ID)
	}
	a.view = a.state.View()
	if a.deps.Directory != nil {
		a.deps.Directory.Put(a.view)
	}
	if a.loaded {
		a.syncMotion()
	}
}

func (a *Actor) currentView() *pb.DeviceView {
	if a.view == nil {
		a.view = a.state.View()
	}
	return a.view
}

// catchUp folds every event after the last one applied.
func (a *Actor) catchUp() {
	if err := a.w.CatchUp(context.Background(), a.apply); err != nil {
		a.log().Warn("load history failed", "device", a.ref.ID, "err", err)
		return
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

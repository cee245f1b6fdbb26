package alarm

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// Deps are what every alarm actor on a node shares.
type Deps struct {
	Store     *events.Store
	Node      string
	Log       *slog.Logger
	Directory *Directory
	// OnFenced is called when an append finds that the shard's term ended.
	OnFenced func(events.Term)
	// Picture takes a JPEG of a device channel (nil: alarms get no picture).
	Picture func(ctx context.Context, device string, channel int) ([]byte, error)
	// Storage keeps the pictures (with the recordings).
	Storage storage.Storage
	// OnChange is told each alarm event (pulse: raised or repeated), so
	// that event recordings of the channel start and stop (nil: none).
	OnChange func(v *pb.AlarmView, pulse bool)
}

// Ask carries a command from this node's router with a reply channel.
type Ask struct {
	Cmd   proto.Message // RaiseAlarm | EndAlarm | AckAlarm | ClearAlarm | GetAlarm
	Reply chan *pb.AlarmReply
}

// Snapshot asks for the slot's state (the shard's snapshot).
type Snapshot struct{ Reply chan State }

// pictureStored: the picture of alarm number is stored under key.
type pictureStored struct {
	number uint32
	key    string
}

// pictureTimeout bounds taking and storing an alarm's picture.
const pictureTimeout = 15 * time.Second

// Actor hosts one alarm slot.
type Actor struct {
	deps  *Deps
	ref   events.Ref
	slot  events.AlarmSlot
	w     aggregate.Writer
	state State
}

// New returns the producer of a slot's actor; st is its folded state (nil:
// a slot without events).
func New(deps *Deps, term events.Term, slot events.AlarmSlot, st *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, slot: slot, ref: events.Ref{Shard: term.Shard, Kind: events.KindAlarm, ID: slot.ID()}}
		a.w = aggregate.Writer{Store: deps.Store, Ref: a.ref, Term: term, Node: deps.Node, Known: true, OnFenced: deps.OnFenced}
		if st != nil {
			a.state = *st
			a.w.Version, a.w.LastSeq = st.Version, st.LastSeq
		}
		a.state.Slot = slot
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.publish()
	case actor.Stopped:
		if a.deps.Directory != nil { // its shard stopped here: another node lists it now
			a.deps.Directory.Put(a.slot.ID(), nil)
		}
	case *Ask:
		if m.Reply == nil {
			break
		}
		reply, cmd := m.Reply, m.Cmd
		m.Cmd, m.Reply = nil, nil // hollywood keeps the last message: hold nothing
		reply <- a.decide(c, cmd)
	case *Snapshot:
		m.Reply <- a.state
	case pictureStored:
		a.handle(nil, func() (*pb.Envelope, *aggregate.Rejection) { return DecideSnapshot(&a.state, m.number, m.key), nil })
	case proto.Message: // from another node's router
		if r := a.decide(c, m); r != nil {
			c.Respond(r)
		}
	}
}

func (a *Actor) decide(c *actor.Context, cmd proto.Message) *pb.AlarmReply {
	switch m := cmd.(type) {
	case *pb.RaiseAlarm:
		before := a.state.Current
		r := a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideRaise(&a.state, m) })
		// System alarms get no picture: their camera is offline, or its
		// recording or storage failed, and a grab would only pull it again.
		if cur := a.state.Current; r.Code == pb.ReplyCode_REPLY_CODE_OK && cur != before && cur.Count == 1 && cur.SnapshotKey == "" && cur.Source != SourceSystem {
			a.takePicture(c, cur.Number)
		}
		return r
	case *pb.EndAlarm:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideEnd(&a.state, m), nil })
	case *pb.AckAlarm:
		n, rej := a.number(m.Id)
		if rej != nil {
			return reply(rej)
		}
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideAck(&a.state, n, m) })
	case *pb.ClearAlarm:
		n, rej := a.number(m.Id)
		if rej != nil {
			return reply(rej)
		}
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideClear(&a.state, n, m) })
	case *pb.GetAlarm:
		n, rej := a.number(m.Id)
		if rej == nil {
			_, rej = find(&a.state, n)
		}
		if rej != nil {
			return reply(rej)
		}
		return &pb.AlarmReply{Alarm: View(a.slot, a.state.Current)}
	}
	return nil
}

// number is the alarm number of an id of this slot.
func (a *Actor) number(id string) (uint32, *aggregate.Rejection) {
	slot, n, ok := events.ParseAlarmID(id)
	if !ok || slot != a.slot {
		return 0, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such alarm"}
	}
	return n, nil
}

// handle runs a decision through the aggregate's decide → append → apply
// loop; the reply carries the slot's newest alarm.
func (a *Actor) handle(meta *pb.CommandMeta, decide func() (*pb.Envelope, *aggregate.Rejection)) *pb.AlarmReply {
	_, err := a.w.Run(context.Background(), meta, aggregate.Decide(decide), a.apply)
	if rej := aggregate.Outcome(err); rej != nil {
		if rej.Code == pb.ReplyCode_REPLY_CODE_UNAVAILABLE {
			a.log().Warn("alarm append failed", "slot", a.slot.ID(), "err", err)
		}
		return reply(rej)
	}
	return &pb.AlarmReply{Alarm: View(a.slot, a.state.Current)}
}

func (a *Actor) apply(e events.Event) {
	a.state.Apply(e)
	a.publish()
	if a.deps.OnChange != nil && a.state.Current != nil {
		switch e.Envelope.Payload.(type) {
		case *pb.Envelope_AlarmRaised, *pb.Envelope_AlarmRepeated:
			a.deps.OnChange(View(a.slot, a.state.Current), true)
		case *pb.Envelope_AlarmEnded, *pb.Envelope_AlarmCleared:
			a.deps.OnChange(View(a.slot, a.state.Current), false)
		}
	}
}

// publish puts the slot's open alarm (or none) in the node's directory.
func (a *Actor) publish() {
	if a.deps.Directory != nil {
		a.deps.Directory.Put(a.slot.ID(), View(a.slot, a.state.Open()))
	}
}

// takePicture stores a picture of the alarm's channel (channel 0, the
// device as a whole: its first channel) in the background and records it.
// An alarm is raised (and delivered) first: a picture can take seconds.
func (a *Actor) takePicture(c *actor.Context, number uint32) {
	if a.deps.Picture == nil || a.deps.Storage == nil {
		return
	}
	engine, self, deps, slot := c.Engine(), c.PID(), a.deps, a.slot
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), pictureTimeout)
		defer cancel()
		ch := max(slot.Channel, 1)
		jpg, err := deps.Picture(ctx, slot.Device, ch)
		if err == nil {
			key := PictureKey(slot, number)
			if err = put(ctx, deps.Storage, key, jpg); err == nil {
				engine.Send(self, pictureStored{number: number, key: key})
				return
			}
		}
		a.log().Info("no picture for the alarm", "alarm", slot.AlarmID(number), "err", err)
	}()
}

// PictureKey is where an alarm's picture is stored.
func PictureKey(slot events.AlarmSlot, number uint32) string {
	return "alarms/" + slot.Device + "/" + slot.AlarmID(number) + ".jpg"
}

func put(ctx context.Context, st storage.Storage, key string, data []byte) error {
	w, err := st.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := bytes.NewReader(data).WriteTo(w); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

func (a *Actor) log() *slog.Logger {
	if a.deps.Log != nil {
		return a.deps.Log
	}
	return slog.Default()
}

func reply(r *aggregate.Rejection) *pb.AlarmReply {
	return &pb.AlarmReply{Code: r.Code, Field: r.Field, Detail: r.Detail}
}

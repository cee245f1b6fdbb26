package plan

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/plan/schedule"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// Deps are what every plan actor on a node shares.
type Deps struct {
	Store   *events.Store
	Node    string
	Log     *slog.Logger
	Storage storage.Storage
	// Index is the segment index every published segment is recorded in.
	Index *events.SegmentIndex
	// Hold keeps a channel's live stream open while it records (on) or lets
	// it go (off); on returns the relay stream to record from.
	Hold func(ctx context.Context, k relay.Key, on bool) (*relay.Stream, error)
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
	// RetentionEvery is how often old segments are looked for (default 1 min).
	RetentionEvery time.Duration
	// OnFenced is called when an append finds that the shard's term ended.
	OnFenced func(events.Term)
	// Alarm passes a system alarm command (pb.RaiseAlarm, pb.EndAlarm) to
	// its slot without waiting (nil: plans raise no alarms).
	Alarm func(cmd proto.Message)
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Ask carries a plan command from this node's router with a reply channel.
type Ask struct {
	Cmd   proto.Message // *pb.SetPlan | *pb.GetPlan
	Reply chan *pb.PlanReply
}

// Stop ends recording without a schedule change (device removed, shutdown).
type Stop struct{ Reason string }

// Snapshot asks for the plan's state (the shard's snapshot).
type Snapshot struct{ Reply chan State }

// Tick re-evaluates the schedule now (after a clock jump; tests with an
// injected clock drive the actor with it).
type Tick struct{}

// Retain applies retention now (it also runs every Deps.RetentionEvery).
type Retain struct{}

type (
	evaluate      struct{ gen int }
	segmentsReady struct{}
	retryIndex    struct{}
)

// Actor runs one device channel's plan.
type Actor struct {
	deps  *Deps
	key   relay.Key
	ref   events.Ref
	w     aggregate.Writer
	state State

	// closed: segments the recorder published and the actor has not
	// indexed yet (filled from the recorder's goroutine). unindexed:
	// segments whose index append failed, retried with backoff.
	closed    segmentQueue
	unindexed []record.Segment
	retry     backoff.Backoff
	retrying  bool

	// compactedThrough is the settled hour of the last compaction round
	// that left nothing to do: the index is listed again once a later hour
	// settles, not every minute.
	compactedThrough time.Time

	sched     *schedule.Plan
	recorder  *record.Recorder
	recording bool
	gen       int
	timer     *time.Timer
	ticker    *time.Ticker
	stopTick  chan struct{}
	engine    *actor.Engine
	self      *actor.PID
	al        alarms   // alarms.go
	stored    bool     // a segment was indexed since the actor started
	holding   bool     // the recording holds the stream (not an event plan's pre-roll)
	ev        eventRec // event.go
}

// New returns the producer of a plan actor; st is its folded state (nil for a
// new plan).
func New(deps *Deps, term events.Term, k relay.Key, st *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, key: k, ref: events.Ref{Shard: term.Shard, Kind: events.KindPlan, ID: events.ChannelID(k.Device, k.Channel)},
			retry: backoff.Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}}
		a.w = aggregate.Writer{Store: deps.Store, Ref: a.ref, Term: term, Node: deps.Node, Known: true, OnFenced: deps.OnFenced}
		if st != nil {
			a.state = *st
			a.w.Version, a.w.LastSeq = st.Version, st.LastSeq
		}
		a.state.Device, a.state.Channel = k.Device, k.Channel
		a.sched = a.state.Schedule()
		a.sched.Normalize()
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.engine, a.self = c.Engine(), c.PID()
		// Evaluate asynchronously: the actor starts inside its shard's
		// activation, and recording needs the shard actor to spawn the stream.
		a.startRetention(c)
		a.startReconcile(a.deps.now())
		c.Engine().Send(c.PID(), evaluate{gen: a.gen})
	case actor.Stopped:
		if a.stopTick != nil {
			close(a.stopTick)
		}
		a.stopRecording(c, "shutdown")
		a.disarmEvents(c)
		a.flushIndex()
	case *Ask:
		m.Reply <- a.handle(c, m.Cmd)
	case evaluate:
		if m.gen == a.gen {
			a.evaluate(c)
		}
	case Tick:
		a.evaluate(c)
		a.checkGap(gapCheck{gen: a.al.gen})
	case segmentsReady:
		a.indexClosed()
	case retryIndex:
		a.retrying = false
		a.indexPending(nil)
	case gapCheck:
		a.checkGap(m)
	case Trigger:
		a.trigger(c, m)
	case postRollDue:
		if m.gen == a.ev.gen {
			a.postRoll(c)
		}
	case *Stop:
		a.gen++
		if a.timer != nil {
			a.timer.Stop()
		}
		a.stopRecording(c, m.Reason)
		a.disarmEvents(c)
	case Retain:
		a.applyRetention()
	case *Snapshot:
		m.Reply <- a.state
	}
}

func (a *Actor) handle(c *actor.Context, cmd proto.Message) *pb.PlanReply {
	switch m := cmd.(type) {
	case *pb.GetPlan:
		if a.state.Plan == nil {
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no recording plan for this channel"}
		}
		return &pb.PlanReply{Plan: a.view()}
	case *pb.SetPlan:
		sp := FromSet(&pb.PlanSet{Mode: m.Mode, Schedule: m.Schedule, Timezone: m.Timezone, SegmentSeconds: m.SegmentSeconds,
			RetentionDays: m.RetentionDays, Event: m.Event, VideoOnly: m.VideoOnly})
		if err := sp.Normalize(); err != nil {
			var fe *schedule.FieldError
			if errors.As(err, &fe) {
				return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: fe.Field, Detail: fe.Detail}
			}
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "body", Detail: err.Error()}
		}
		set := ToSet(a.key.Device, a.key.Channel, sp)
		_, err := a.w.Run(context.Background(), m.Meta, func() (*pb.Envelope, error) {
			if m.Meta != nil && m.Meta.ExpectedVersion != nil && *m.Meta.ExpectedVersion != a.state.Version {
				return nil, errPrecondition
			}
			return &pb.Envelope{Payload: &pb.Envelope_PlanSet{PlanSet: set}}, nil
		}, a.state.Apply)
		switch {
		case errors.Is(err, errPrecondition):
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_PRECONDITION_FAILED, Field: "If-Match", Detail: "the plan has changed since that version"}
		case errors.Is(err, events.ErrFenced):
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "the shard moved to another node"}
		case err != nil:
			a.deps.Log.Warn("plan: append failed", "plan", a.ref.ID, "err", err)
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: "event log unavailable; retry"}
		}
		segmentChanged := a.sched.SegmentSeconds != sp.SegmentSeconds || a.sched.Mode != sp.Mode || a.sched.VideoOnly != sp.VideoOnly
		a.sched = sp
		if segmentChanged && a.recording {
			a.stopRecording(c, "plan changed") // restarts below with the new segment length and tracks
		}
		a.evaluate(c)
		return &pb.PlanReply{Plan: a.view()}
	}
	return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Detail: "unknown command"}
}

// evaluate starts or stops recording as the schedule says now (an event
// plan: arms or disarms its pre-roll), and arms a timer for the next change.
func (a *Actor) evaluate(c *actor.Context) {
	now := a.deps.now()
	event := a.state.Plan != nil && a.sched.Mode == schedule.ModeEvent
	armed := event && a.sched.Armed(now)
	want := a.state.Plan != nil && a.sched.Recording(now)
	switch {
	case event:
		a.armEvents(c, armed)
	case want && !a.recording:
		a.disarmEvents(c)
		a.startRecording(c)
	case !want:
		a.disarmEvents(c)
		if a.recording {
			a.stopRecording(c, "schedule")
		}
	}
	a.gen++
	if a.timer != nil {
		a.timer.Stop()
	}
	if next, ok := a.sched.NextChange(now); ok {
		gen, self, engine := a.gen, c.PID(), c.Engine()
		a.timer = time.AfterFunc(next.Sub(now)+10*time.Millisecond, func() { engine.Send(self, evaluate{gen: gen}) })
	}
	// The stream could not be held (to record, or for an armed pre-roll):
	// try again soon.
	if (want && !a.recording && !event) || (armed && a.ev.pre == nil) {
		gen, self, engine := a.gen, c.PID(), c.Engine()
		time.AfterFunc(time.Second, func() { engine.Send(self, evaluate{gen: gen}) })
	}
}

// startRecording holds the stream and records it (continuous and schedule
// plans).
func (a *Actor) startRecording(c *actor.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := a.deps.Hold(ctx, a.key, true)
	if err != nil {
		a.deps.Log.Warn("recording: cannot hold the stream", "plan", a.ref.ID, "err", err)
		return
	}
	if !a.startRecorder(c, st, 0) {
		a.deps.Hold(ctx, a.key, false)
		return
	}
	a.holding = true
}

// startRecorder runs a recorder on src (backlog: access units src delivers
// at once, a pre-roll).
func (a *Actor) startRecorder(c *actor.Context, src record.Source, backlog int) bool {
	self, engine := c.PID(), c.Engine()
	rec, err := record.Start(record.Config{
		Key:             a.ref.ID,
		SegmentDuration: time.Duration(a.sched.SegmentSeconds) * time.Second,
		Storage:         a.deps.Storage,
		Audio:           !a.sched.VideoOnly,
		Backlog:         backlog,
		OnSegment: func(s record.Segment) {
			a.closed.push(s)
			engine.Send(self, segmentsReady{})
		},
		Log: a.deps.Log,
	}, src)
	if err != nil {
		a.deps.Log.Warn("recording: recorder did not start", "plan", a.ref.ID, "err", err)
		return false
	}
	a.recorder, a.recording = rec, true
	a.watchGaps()
	a.append(&pb.Envelope{Payload: &pb.Envelope_PlanRecordingStarted{PlanRecordingStarted: &pb.PlanRecordingStarted{Node: a.deps.Node}}})
	return true
}

func (a *Actor) stopRecording(c *actor.Context, reason string) {
	if !a.recording {
		return
	}
	a.recorder.Stop() // finalizes and publishes the open segment
	a.recorder, a.recording = nil, false
	a.stopGaps()
	// Index what it published now: when the actor is stopping, a message
	// to itself would never be read.
	a.indexClosed()
	a.ev.alarms = nil
	if a.holding { // an event plan's pre-roll keeps its own hold
		a.holding = false
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.deps.Hold(ctx, a.key, false)
	}
	a.append(&pb.Envelope{Payload: &pb.Envelope_PlanRecordingStopped{PlanRecordingStopped: &pb.PlanRecordingStopped{Reason: reason}}})
}

// applyRetention deletes segments older than the plan's retention: the
// object first, then its index entry (a crash in between leaves an entry
// whose object is gone, which the next round deletes again). Then it
// compacts the index's settled hours (events/segments_compact.go).
func (a *Actor) applyRetention() {
	if a.state.Plan == nil || a.deps.Storage == nil || a.deps.Index == nil {
		return
	}
	cutoffTime := a.deps.now().Add(-time.Duration(a.sched.RetentionDays) * 24 * time.Hour)
	cutoff := cutoffTime.UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		segs, err := a.deps.Index.Oldest(ctx, a.ref, cutoffTime, retentionBatch)
		if err != nil {
			a.deps.Log.Warn("retention: reading the index failed; retried next round", "plan", a.ref.ID, "err", err)
			return
		}
		expired := 0
		for _, seg := range segs {
			if seg.End >= cutoff {
				break
			}
			if err := a.deps.Storage.Delete(ctx, seg.Key); err != nil && !errors.Is(err, storage.ErrNotFound) {
				a.deps.Log.Warn("retention: delete failed; retried next round", "key", seg.Key, "err", err)
				return
			}
			if err := a.deps.Index.Delete(ctx, a.ref, SegmentDeleted(a.ref, a.deps.Node, seg.Key, "retention", seg.Start), seg.Seq); err != nil {
				a.deps.Log.Warn("retention: index update failed; retried next round", "key", seg.Key, "err", err)
				return
			}
			expired++
		}
		if expired < len(segs) || len(segs) < retentionBatch {
			break
		}
	}
	now := a.deps.now()
	settled := now.Add(-events.CompactSettle).Truncate(time.Hour)
	if settled.Equal(a.compactedThrough) {
		return
	}
	switch n, err := a.deps.Index.CompactHours(ctx, a.ref, a.deps.Node, now, compactBatch); {
	case err != nil:
		a.deps.Log.Warn("index compaction failed; retried next round", "plan", a.ref.ID, "err", err)
	case n < compactBatch:
		a.compactedThrough = settled
	}
}

// retentionBatch is how many of the oldest segments a retention step reads.
const retentionBatch = 500

// compactBatch is how many settled hours a retention step compacts: one
// is due per hour; a migrated month (720) catches up in an hour. Facts
// that land in a compacted hour later (retention's deletions, a late
// recovered segment) are folded by lookups until the next hour settles.
const compactBatch = 12

func (a *Actor) startRetention(c *actor.Context) {
	every := a.deps.RetentionEvery
	if every <= 0 {
		every = time.Minute
	}
	self, engine := c.PID(), c.Engine()
	a.stopTick = make(chan struct{})
	stop := a.stopTick
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				engine.Send(self, Retain{})
			}
		}
	}()
}

func (a *Actor) view() *pb.PlanView {
	p := a.state.Plan
	v := &pb.PlanView{Device: a.key.Device, Channel: uint32(a.key.Channel), Mode: p.Mode, Schedule: p.Schedule,
		Timezone: p.Timezone, SegmentSeconds: p.SegmentSeconds, RetentionDays: p.RetentionDays,
		Recording: a.recording, Version: a.state.Version, Event: p.Event, VideoOnly: p.VideoOnly}
	if next, ok := a.sched.NextChange(a.deps.now()); ok {
		v.NextChangeUnixMs = next.UnixMilli()
	}
	return v
}

// append records a fact (no decision) through the aggregate's loop.
func (a *Actor) append(env *pb.Envelope) {
	if _, err := a.w.Append(context.Background(), env, a.state.Apply); err != nil && !errors.Is(err, events.ErrFenced) {
		a.deps.Log.Warn("plan: append failed", "plan", a.ref.ID, "type", env.Type, "err", err)
	}
}

var errPrecondition = errors.New("plan: version mismatch")

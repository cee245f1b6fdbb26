package plan

import (
	"context"
	"slices"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/plan/schedule"
)

// Event recording: while an event plan is armed it holds the channel's
// stream and keeps a pre-roll (record.PreRoll) of it; an alarm of the
// channel (or of the device as a whole) whose type is a trigger starts a
// recorder on the pre-roll from pre_roll_seconds before it, and the
// recording stops post_roll_seconds after the last trigger, once no
// triggering condition holds any more.

// Trigger tells a plan about an alarm of its channel (the host sends it
// after each alarm event).
type Trigger struct {
	Alarm, Type string
	// Pulse: the alarm was raised or repeated now.
	Pulse bool
	// Active: its condition still holds (a camera's or Argus's motion not
	// ended yet); alarms of other sources are pulses only.
	Active bool
}

// postRollDue: the post-roll may be over (if gen is still the plan's).
type postRollDue struct{ gen int }

// eventRec is an event plan's running state.
type eventRec struct {
	pre       *record.PreRoll
	active    map[string]bool // alarms whose condition holds
	until     time.Time       // the recording goes on at least until then
	alarms    []string        // alarms of the current recording
	segAlarms map[string][]string
	timer     *time.Timer
	gen       int
}

// armEvents keeps the pre-roll running while armed.
func (a *Actor) armEvents(c *actor.Context, armed bool) {
	if !armed {
		if a.recording {
			a.stopRecording(c, "schedule")
		}
		a.disarmEvents(c)
		return
	}
	if a.ev.pre != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := a.deps.Hold(ctx, a.key, true)
	if err != nil {
		a.deps.Log.Warn("event recording: cannot hold the stream", "plan", a.ref.ID, "err", err)
		return
	}
	keep := time.Duration(a.sched.Event.PreRollSeconds) * time.Second
	a.ev.pre = record.NewPreRoll(st, keep)
	a.ev.active = map[string]bool{}
}

// disarmEvents lets the pre-roll and its hold go.
func (a *Actor) disarmEvents(c *actor.Context) {
	if a.ev.pre == nil {
		return
	}
	if a.recording {
		a.stopRecording(c, "disarmed")
	}
	a.ev.pre.Close()
	a.ev.pre, a.ev.active = nil, nil
	a.ev.gen++
	if a.ev.timer != nil {
		a.ev.timer.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.deps.Hold(ctx, a.key, false)
}

func (a *Actor) trigger(c *actor.Context, m Trigger) {
	if a.ev.pre == nil || a.sched.Mode != schedule.ModeEvent || !a.sched.Event.Triggered(m.Type) {
		return
	}
	now := a.deps.now()
	if m.Active {
		a.ev.active[m.Alarm] = true
	} else {
		delete(a.ev.active, m.Alarm)
	}
	post := time.Duration(a.sched.Event.PostRollSeconds) * time.Second
	if now.Add(post).After(a.ev.until) {
		a.ev.until = now.Add(post)
	}
	if m.Pulse && !a.recording {
		pre := time.Duration(a.sched.Event.PreRollSeconds) * time.Second
		// Room for the pre-roll delivered at once (and a GOP more) at 30 fps.
		backlog := int((pre + 5*time.Second).Seconds() * 30)
		if !a.startRecorder(c, a.ev.pre.From(now.Add(-pre)), backlog) {
			return
		}
	}
	if m.Pulse && !slices.Contains(a.ev.alarms, m.Alarm) {
		a.ev.alarms = append(a.ev.alarms, m.Alarm)
	}
	a.armPostRoll(c)
}

// armPostRoll wakes the plan when the post-roll would end.
func (a *Actor) armPostRoll(c *actor.Context) {
	a.ev.gen++
	if a.ev.timer != nil {
		a.ev.timer.Stop()
	}
	gen, engine, self := a.ev.gen, c.Engine(), c.PID()
	a.ev.timer = time.AfterFunc(time.Until(a.ev.until)+10*time.Millisecond, func() { engine.Send(self, postRollDue{gen: gen}) })
}

func (a *Actor) postRoll(c *actor.Context) {
	if !a.recording {
		return
	}
	if len(a.ev.active) > 0 || a.deps.now().Before(a.ev.until) {
		if len(a.ev.active) > 0 { // a condition still holds: look again after a post-roll
			a.ev.until = a.deps.now().Add(time.Duration(a.sched.Event.PostRollSeconds) * time.Second)
		}
		a.armPostRoll(c)
		return
	}
	a.stopRecording(c, "post-roll")
}

package plan

import (
	"fmt"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// The plan's system alarms: "recording" when it should be recording but cut
// no segment for two segment lengths (the camera is down, the recorder is
// stuck), "storage" when a segment could not be stored or indexed. Each is
// cleared by the system when a segment makes it again.

// gapCheck: see whether segments still come (if gen is still the plan's).
type gapCheck struct{ gen int }

// alarms is what the plan raised and watches.
type alarms struct {
	since   time.Time // recording since, or the last segment indexed
	gen     int
	ticker  *time.Ticker
	stop    chan struct{}
	gap     bool // "recording" raised
	storage bool // "storage" raised
}

func (a *Actor) slot(typ string) events.AlarmSlot {
	return events.AlarmSlot{Device: a.key.Device, Channel: a.key.Channel, Type: typ}
}

func (a *Actor) raise(typ, message string) {
	if a.deps.Alarm != nil {
		a.deps.Alarm(&pb.RaiseAlarm{Device: a.key.Device, Channel: uint32(a.key.Channel), Type: typ, Source: "system",
			Message: message, AtUnixMs: a.deps.now().UnixMilli()})
	}
}

func (a *Actor) clear(typ, reason string) {
	if a.deps.Alarm != nil {
		a.deps.Alarm(&pb.EndAlarm{Slot: a.slot(typ).ID(), AtUnixMs: a.deps.now().UnixMilli(), Clear: true, Reason: reason})
	}
}

// watchGaps starts checking, every segment length, that segments come.
func (a *Actor) watchGaps() {
	a.stopGaps()
	if a.deps.Alarm == nil || a.engine == nil {
		return
	}
	a.al.since, a.al.gen = a.deps.now(), a.al.gen+1
	every := time.Duration(a.sched.SegmentSeconds) * time.Second
	a.al.ticker, a.al.stop = time.NewTicker(every), make(chan struct{})
	t, stop, engine, self, gen := a.al.ticker, a.al.stop, a.engine, a.self, a.al.gen
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				engine.Send(self, gapCheck{gen: gen})
			}
		}
	}()
}

func (a *Actor) stopGaps() {
	if a.al.ticker != nil {
		a.al.ticker.Stop()
		close(a.al.stop)
		a.al.ticker = nil
	}
	a.al.gen++
}

func (a *Actor) checkGap(m gapCheck) {
	if m.gen != a.al.gen || !a.recording || a.al.gap {
		return
	}
	seg := time.Duration(a.sched.SegmentSeconds) * time.Second
	if quiet := a.deps.now().Sub(a.al.since); quiet >= 2*seg {
		a.al.gap = true
		a.raise("recording", fmt.Sprintf("recording but no segment for %v", quiet.Round(time.Second)))
	}
}

// segmentStored: a segment was indexed; the conditions of both alarms are
// over. A plan that just started (maybe after another node raised them)
// clears them at its first segment too.
func (a *Actor) segmentStored(first bool) {
	a.al.since = a.deps.now()
	if a.al.gap || first {
		a.al.gap = false
		a.clear("recording", "segments are recorded again")
	}
	if a.al.storage || first {
		a.al.storage = false
		a.clear("storage", "segments are stored again")
	}
}

// storageFailed: a segment could not be stored or indexed yet.
func (a *Actor) storageFailed(err error) {
	if !a.al.storage {
		a.al.storage = true
		a.raise("storage", fmt.Sprintf("a segment could not be stored: %v", err))
	}
}

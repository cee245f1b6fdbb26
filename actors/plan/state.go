// Package plan is the recording plan aggregate: one per device channel, in
// the device's shard. Its actor follows the plan's schedule, holds the
// channel's live stream open while it records, writes fMP4 segments through
// the recorder, and records each segment (and each deletion by retention)
// as an event.
package plan

import (
	"github.com/argus-vms/argus/actors/plan/schedule"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// State is a plan as its events left it.
type State struct {
	Device  string
	Channel int
	Plan    *pb.PlanSet // nil until the first PlanSet
	Version uint64
	LastSeq uint64
	// No segments: they live in the segment index (events.SegmentIndex),
	// so a plan's state stays the same size however long it records.
}

// Apply folds one event.
// AppliedSeq is the log sequence of the last event folded in.
func (s *State) AppliedSeq() uint64 { return s.LastSeq }

func (s *State) Apply(e events.Event) {
	s.Version, s.LastSeq = e.Envelope.Version, e.Seq
	switch p := e.Envelope.Payload.(type) {
	case *pb.Envelope_PlanSet:
		s.Plan = p.PlanSet
		s.Device, s.Channel = p.PlanSet.Device, int(p.PlanSet.Channel)
	}
}

// Schedule is the plan in the schedule package's terms.
func (s *State) Schedule() *schedule.Plan {
	if s.Plan == nil {
		return &schedule.Plan{Mode: "off"}
	}
	return FromSet(s.Plan)
}

// FromSet converts the event form to the schedule form.
func FromSet(p *pb.PlanSet) *schedule.Plan {
	sp := &schedule.Plan{Mode: p.Mode, Timezone: p.Timezone, SegmentSeconds: int(p.SegmentSeconds), RetentionDays: int(p.RetentionDays),
		VideoOnly: p.VideoOnly}
	if e := p.Event; e != nil {
		sp.Event = &schedule.Event{PreRollSeconds: int(e.PreRollSeconds), PostRollSeconds: int(e.PostRollSeconds), Triggers: e.Triggers}
	}
	for _, w := range p.Schedule {
		sp.Windows = append(sp.Windows, schedule.Window{Days: w.Days, Start: w.Start, End: w.End})
	}
	return sp
}

// ToSet converts a normalized schedule plan to its event form.
func ToSet(device string, channel int, sp *schedule.Plan) *pb.PlanSet {
	ps := &pb.PlanSet{Device: device, Channel: uint32(channel), Mode: sp.Mode, Timezone: sp.Timezone,
		SegmentSeconds: uint32(sp.SegmentSeconds), RetentionDays: uint32(sp.RetentionDays), VideoOnly: sp.VideoOnly}
	for _, w := range sp.Windows {
		ps.Schedule = append(ps.Schedule, &pb.PlanWindow{Days: w.Days, Start: w.Start, End: w.End})
	}
	if e := sp.Event; e != nil {
		ps.Event = &pb.EventRecording{PreRollSeconds: uint32(e.PreRollSeconds), PostRollSeconds: uint32(e.PostRollSeconds), Triggers: e.Triggers}
	}
	return ps
}

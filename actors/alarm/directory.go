package alarm

import (
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events/pb"
)

// Directory is this node's index of the open alarms its slot actors hold,
// by slot id, so listing them asks no actor.
type Directory struct {
	d aggregate.Directory[*pb.AlarmView]
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{} }

// Put records a slot's open alarm (nil or cleared: none).
func (d *Directory) Put(slot string, v *pb.AlarmView) {
	d.d.Put(slot, v, v != nil && v.State != Cleared)
}

// List returns the open alarms matching q (any order).
func (d *Directory) List(q *pb.ListAlarms) []*pb.AlarmView {
	return d.d.List(func(v *pb.AlarmView) bool { return Matches(v, q) })
}

// Matches reports whether an alarm passes q's filters.
func Matches(v *pb.AlarmView, q *pb.ListAlarms) bool {
	return (q.GetDevice() == "" || v.Device == q.GetDevice()) && (q.GetType() == "" || v.Type == q.GetType()) &&
		(q.GetSeverity() == "" || v.Severity == q.GetSeverity()) && (q.GetState() == "" || v.State == q.GetState())
}

package alarm

import (
	"sync"

	"github.com/argus-vms/argus/events/pb"
)

// Directory is this node's index of the open alarms its slot actors hold,
// so listing them asks no actor. Views are immutable.
type Directory struct {
	mu    sync.RWMutex
	views map[string]*pb.AlarmView // by slot id
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{views: map[string]*pb.AlarmView{}} }

// Put records a slot's open alarm (nil: none).
func (d *Directory) Put(slot string, v *pb.AlarmView) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v == nil || v.State == Cleared {
		delete(d.views, slot)
		return
	}
	d.views[slot] = v
}

// List returns the open alarms matching q (any order).
func (d *Directory) List(q *pb.ListAlarms) []*pb.AlarmView {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*pb.AlarmView
	for _, v := range d.views {
		if Matches(v, q) {
			out = append(out, v)
		}
	}
	return out
}

// Matches reports whether an alarm passes q's filters.
func Matches(v *pb.AlarmView, q *pb.ListAlarms) bool {
	return (q.GetDevice() == "" || v.Device == q.GetDevice()) && (q.GetType() == "" || v.Type == q.GetType()) &&
		(q.GetSeverity() == "" || v.Severity == q.GetSeverity()) && (q.GetState() == "" || v.State == q.GetState())
}

package device

import (
	"slices"
	"sync"

	"github.com/argus-vms/argus/events/pb"
)

// Directory is this node's index of the device views its actors hold, for
// listing without asking every actor. Actors publish an immutable view after
// each applied event; readers never see a half-applied state.
type Directory struct {
	mu     sync.RWMutex
	views  map[string]*pb.DeviceView
	sorted []string // ids in order; rebuilt lazily after inserts/deletes
	dirty  bool
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{views: map[string]*pb.DeviceView{}} }

// Put records the latest view of a registered device, or forgets a removed one.
func (d *Directory) Put(v *pb.DeviceView) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, had := d.views[v.Id]
	if v.Removed {
		if had {
			delete(d.views, v.Id)
			d.dirty = true
		}
		return
	}
	d.views[v.Id] = v
	if !had {
		d.dirty = true
	}
}

// Forget drops a device whose actor stopped on this node (its shard moved
// to another node).
func (d *Directory) Forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, had := d.views[id]; had {
		delete(d.views, id)
		d.dirty = true
	}
}

// Len is the number of registered devices.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.views)
}

// List returns up to limit views with id > q.Cursor in id order that match
// q's filters (label, status), and the cursor of the next page ("" at the
// end). q.Limit is ignored: the caller bounds limit.
func (d *Directory) List(limit int, q *pb.ListDevices) ([]*pb.DeviceView, string) {
	cursor := q.GetCursor()
	d.mu.Lock()
	if d.dirty {
		d.sorted = d.sorted[:0]
		for id := range d.views {
			d.sorted = append(d.sorted, id)
		}
		slices.Sort(d.sorted)
		d.dirty = false
	}
	d.mu.Unlock()

	d.mu.RLock()
	defer d.mu.RUnlock()
	i, _ := slices.BinarySearch(d.sorted, cursor)
	if i < len(d.sorted) && d.sorted[i] == cursor {
		i++
	}
	out := make([]*pb.DeviceView, 0, min(limit, 128))
	for ; i < len(d.sorted); i++ {
		v, ok := d.views[d.sorted[i]]
		if !ok {
			continue // removed since the sort; next List re-sorts
		}
		if !Matches(v, q) {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].Id
		}
		out = append(out, v)
	}
	return out, ""
}

// Matches says whether view v passes q's filters: the label key=value when
// q.LabelKey is set, the status when q.Status is ("unknown" is a device
// never probed yet).
func Matches(v *pb.DeviceView, q *pb.ListDevices) bool {
	if k := q.GetLabelKey(); k != "" {
		if lv, ok := v.Labels[k]; !ok || lv != q.GetLabelValue() {
			return false
		}
	}
	if st := q.GetStatus(); st != "" {
		have := v.GetStatus()
		if have == "" {
			have = StatusUnknown
		}
		if have != st {
			return false
		}
	}
	return true
}

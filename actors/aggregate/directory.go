package aggregate

import "sync"

// Directory is a node's index of the views its actors of one kind hold
// (alarms open here, webhooks delivered from here), for listing without
// asking every actor. Actors put immutable views after each applied event.
type Directory[V any] struct {
	mu    sync.RWMutex
	views map[string]V
}

// Put records an aggregate's view, or forgets it (ok false).
func (d *Directory[V]) Put(id string, v V, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.views == nil {
		d.views = map[string]V{}
	}
	if !ok {
		delete(d.views, id)
		return
	}
	d.views[id] = v
}

// List returns the views match accepts (nil: all), in no order.
func (d *Directory[V]) List(match func(V) bool) []V {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []V
	for _, v := range d.views {
		if match == nil || match(v) {
			out = append(out, v)
		}
	}
	return out
}

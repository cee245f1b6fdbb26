package scheduler

import (
	"cmp"
	"slices"

	"github.com/argus-vms/argus/events/pb"
)

// entry is one task waiting in the offline backlog.
type entry struct {
	key      string // its backlog key
	work     *pb.TaskWork
	priority int32
	rev      uint64 // backlog revision: submission order
}

// fairQueue orders one group's backlog: fair share between API keys (the
// key served least goes next, so a key with 1000 tasks waiting does not
// starve a key with 10), and within a key by priority, then submission.
type fairQueue struct {
	byKey  map[string][]*entry // per API key, best first
	served map[string]uint64   // tasks dispatched per key while it had work waiting
	ids    map[string]string   // task id → API key
}

func newFairQueue() *fairQueue {
	return &fairQueue{byKey: map[string][]*entry{}, served: map[string]uint64{}, ids: map[string]string{}}
}

func better(a, b *entry) int {
	if c := cmp.Compare(b.priority, a.priority); c != 0 {
		return c
	}
	return cmp.Compare(a.rev, b.rev)
}

// add queues a task (again: its entry is replaced).
func (q *fairQueue) add(e *entry) {
	q.remove(e.work.Id)
	k := e.work.Spec.GetKeyId()
	if _, ok := q.byKey[k]; !ok {
		// A key that starts waiting joins at the least served count, not
		// at zero: it gets its share from now on, not a burst for the past.
		q.served[k] = q.minServed()
	}
	l := q.byKey[k]
	i, _ := slices.BinarySearchFunc(l, e, better)
	q.byKey[k] = slices.Insert(l, i, e)
	q.ids[e.work.Id] = k
}

// remove forgets a task (dispatched, or its entry deleted).
func (q *fairQueue) remove(id string) {
	k, ok := q.ids[id]
	if !ok {
		return
	}
	delete(q.ids, id)
	l := slices.DeleteFunc(q.byKey[k], func(e *entry) bool { return e.work.Id == id })
	if len(l) == 0 {
		delete(q.byKey, k)
		delete(q.served, k)
		return
	}
	q.byKey[k] = l
}

func (q *fairQueue) minServed() uint64 {
	first, least := true, uint64(0)
	for k := range q.byKey {
		if s := q.served[k]; first || s < least {
			least, first = s, false
		}
	}
	return least
}

// next is the task to dispatch next (nil: none), counted as served.
func (q *fairQueue) next() *entry {
	var pick string
	found := false
	for k := range q.byKey {
		if !found || q.served[k] < q.served[pick] || (q.served[k] == q.served[pick] && better(q.byKey[k][0], q.byKey[pick][0]) < 0) {
			pick, found = k, true
		}
	}
	if !found {
		return nil
	}
	e := q.byKey[pick][0]
	q.served[pick]++
	return e
}

func (q *fairQueue) len() int { return len(q.ids) }

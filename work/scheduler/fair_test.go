package scheduler

import (
	"fmt"
	"testing"

	"github.com/argus-vms/argus/events/pb"
)

func work(id, key string, prio int32) *entry {
	return &entry{key: "default." + id, work: &pb.TaskWork{Id: id, Spec: &pb.TaskSpec{KeyId: key, Priority: prio, Group: "default"}}, priority: prio}
}

// take dispatches n tasks and returns their ids.
func take(q *fairQueue, n int) []string {
	var out []string
	for range n {
		e := q.next()
		if e == nil {
			break
		}
		q.remove(e.work.Id)
		out = append(out, e.work.Id)
	}
	return out
}

func TestFairShareBetweenKeys(t *testing.T) {
	q := newFairQueue()
	rev := uint64(0)
	add := func(e *entry) { rev++; e.rev = rev; q.add(e) }
	for i := range 1000 {
		add(work(fmt.Sprintf("a%d", i), "a", 5))
	}
	for i := range 10 {
		add(work(fmt.Sprintf("b%d", i), "b", 5))
	}
	got := take(q, 20)
	b := 0
	for _, id := range got {
		if id[0] == 'b' {
			b++
		}
	}
	if b != 10 {
		t.Fatalf("the first 20 dispatches hold %d of key b's 10 tasks: %v", b, got)
	}
	// A key that starts waiting later gets its share from then on, not a burst.
	for i := range 5 {
		add(work(fmt.Sprintf("c%d", i), "c", 5))
	}
	got = take(q, 4)
	c := 0
	for _, id := range got {
		if id[0] == 'c' {
			c++
		}
	}
	if c != 2 {
		t.Errorf("after c joined: %v, want c and a alternating", got)
	}
}

func TestPriorityWithinAKey(t *testing.T) {
	q := newFairQueue()
	for i, p := range []int32{1, 9, 5, 9} {
		e := work(fmt.Sprintf("t%d", i), "a", p)
		e.rev = uint64(i + 1)
		q.add(e)
	}
	if got := fmt.Sprint(take(q, 4)); got != "[t1 t3 t2 t0]" {
		t.Errorf("order %s, want priority then submission", got)
	}
	q.add(work("x", "a", 5))
	q.remove("x")
	if q.len() != 0 || q.next() != nil {
		t.Errorf("removed entries stay")
	}
}

package cluster

import (
	"context"
	"time"
)

// leadCheck is how often WhileLeading asks whether this node still leads.
const leadCheck = 500 * time.Millisecond

// WhileLeading runs run each time lead() starts to hold, with a context
// that ends soon after it stops holding (or ctx ends), until ctx ends. The
// cluster's singletons (the bus outputs, the task scheduler) run this way
// on the owner of shard 0: a node that dies hands them on with the shard.
// lead nil: always.
func WhileLeading(ctx context.Context, lead func() bool, run func(ctx context.Context)) {
	holds := func() bool { return lead == nil || lead() }
	for ctx.Err() == nil {
		if !holds() {
			wait(ctx, leadCheck)
			continue
		}
		term, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); run(term) }()
		for term.Err() == nil && holds() {
			select {
			case <-done:
				cancel() // run ended by itself: start it again after a pause
				wait(ctx, leadCheck)
			case <-time.After(leadCheck):
			}
		}
		cancel()
		<-done
	}
}

func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

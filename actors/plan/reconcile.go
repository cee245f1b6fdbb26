package plan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events"
)

// Reconciliation: a node killed while its plans' index appends were still
// being retried (the log unreachable) leaves segments published but not
// indexed — nobody else knows of them. So each plan actor, once activated
// (after a restart, a relocation or a handover), compares what its
// storage holds of the last reconcileWindow with the index and indexes
// what is missing, as recovered segments. Segments its own recorders
// publish start after its activation and are left to the actor.

// Reconciliation timing (variables for tests).
var (
	// reconcileWindow is how far back before the activation a plan looks.
	reconcileWindow = 2 * time.Hour
	// reconcileDelay, plus up to reconcileJitter, lets a failover's
	// activations finish first and spreads the plans' index reads.
	reconcileDelay  = 5 * time.Second
	reconcileJitter = 15 * time.Second
)

// reconciling bounds the plans of a node reconciling at once (each reads
// a few index subjects and a directory): hundreds of plans activated
// together must not crowd the log their commands need.
var reconciling = make(chan struct{}, 2)

// startReconcile reconciles the plan's recent segments in the background,
// reconcileDelay after its activation at now.
func (a *Actor) startReconcile(now time.Time) {
	if _, ok := a.deps.Storage.(storage.Lister); !ok || a.deps.Index == nil || a.state.Plan == nil {
		return
	}
	deps, ref, stop := a.deps, a.ref, a.stopTick
	wait := reconcileDelay + rand.N(reconcileJitter+1)
	go func() {
		select {
		case <-time.After(wait):
		case <-stop:
			return
		}
		select {
		case reconciling <- struct{}{}:
			defer func() { <-reconciling }()
		case <-stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, err := reconcile(ctx, deps, ref, now.Add(-reconcileWindow), now)
		switch {
		case err != nil:
			deps.Log.Warn("recording: index reconciliation failed", "plan", ref.ID, "indexed", n, "err", err)
		case n > 0:
			deps.Log.Warn("recording: published segments were missing from the index; indexed now", "plan", ref.ID, "segments", n)
		}
	}()
}

// reconcile indexes plan's published segments that start in [from, to)
// and are not in the index; it returns how many it indexed.
func reconcile(ctx context.Context, deps *Deps, plan events.Ref, from, to time.Time) (int, error) {
	lister := deps.Storage.(storage.Lister)
	indexed, err := deps.Index.Range(ctx, plan, from, to)
	if err != nil {
		return 0, err
	}
	known := make(map[string]bool, len(indexed))
	for _, s := range indexed {
		known[s.Key] = true
	}
	n := 0
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		keys, err := lister.List(ctx, fmt.Sprintf("%s/%04d/%02d/%02d/", plan.ID, day.Year(), int(day.Month()), day.Day()))
		if err != nil {
			return n, err
		}
		for _, k := range keys {
			start, ok := record.SegmentStart(k)
			if !ok || known[k] || start.Before(from) || !start.Before(to) {
				continue
			}
			seg, ok, err := record.Inspect(ctx, deps.Storage, k)
			if err != nil {
				return n, err
			}
			if !ok {
				deps.Log.Warn("recording: an unindexed object is not a playable segment; left as is", "plan", plan.ID, "segment", k)
				continue
			}
			if _, err := deps.Index.Record(ctx, plan, SegmentRecorded(plan, deps.Node, seg, true)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

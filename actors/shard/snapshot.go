package shard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/actors/webhook"
)

// A shard snapshot holds the state of every aggregate of the shard as of a
// log sequence (Covers): activation reads it, then only the shard's events
// after Covers, so a failover costs O(aggregates) + O(recent events)
// however long the history. The shard actor takes it: it reads the log's
// last sequence first, then asks every child for its state; a child
// answers after the message it is handling, so every event of the shard
// up to that sequence is in the answers (within a term this node's actors
// are the shard's only writers). Events after Covers that a state already
// holds are skipped by their sequence (each state knows its last one).
type shardSnapshot struct {
	Shard    int                       `json:"shard"`
	Shards   int                       `json:"shards"`
	Covers   uint64                    `json:"covers"`
	TakenMS  int64                     `json:"taken_ms"`
	Devices  []device.State            `json:"devices"`
	Plans    map[string]*plan.State    `json:"plans"`
	Live     []string                  `json:"live"`             // streams with a session running
	Alarms   map[string]*alarm.State   `json:"alarms,omitempty"` // by slot id
	Webhooks map[string]*webhook.State `json:"webhooks,omitempty"`
	Tasks    map[string]*task.State    `json:"tasks,omitempty"` // the live ones (finished tasks have no actor)
}

// takeSnapshot asks a shard actor for its snapshot.
type takeSnapshot struct{ reply chan error }

// snapshotEvery is how often the host snapshots the shards it owns (when
// the log moved since).
var snapshotEvery = 5 * time.Minute

// snapshot collects the shard's states and stores them (run by the shard
// actor; the collection runs in a goroutine so the shard keeps serving).
func (s *shardActor) snapshot(c *actor.Context, m *takeSnapshot) {
	if s.snaps == nil {
		m.reply <- nil
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	covers, err := s.deps.Store.LastSeq(ctx)
	cancel()
	if err != nil {
		m.reply <- err
		return
	}
	var devs, plans, streams, alarms, hooks, tasks []child
	for id, pid := range s.kids {
		switch {
		case strings.HasSuffix(id, "#plan"):
			plans = append(plans, child{strings.TrimSuffix(id, "#plan"), pid})
		case strings.HasSuffix(id, "#alarm"):
			alarms = append(alarms, child{strings.TrimSuffix(id, "#alarm"), pid})
		case strings.HasSuffix(id, "#webhook"):
			hooks = append(hooks, child{strings.TrimSuffix(id, "#webhook"), pid})
		case strings.HasSuffix(id, "#task"):
			tasks = append(tasks, child{strings.TrimSuffix(id, "#task"), pid})
		case strings.Contains(id, "~"):
			streams = append(streams, child{id, pid})
		default:
			devs = append(devs, child{id, pid})
		}
	}
	// Slots without an actor: their folded states (copied, the shard actor
	// hands them to actors as it spawns them).
	quiet := make(map[string]*alarm.State, len(s.alarmStates)+len(alarms))
	for id, st := range s.alarmStates {
		cp := *st
		quiet[id] = &cp
	}
	engine, n, shards, snaps := c.Engine(), s.n, s.shards, s.snaps
	go func() {
		snap := shardSnapshot{Shard: n, Shards: shards, Covers: covers, TakenMS: time.Now().UnixMilli(), Plans: map[string]*plan.State{},
			Alarms: quiet, Webhooks: map[string]*webhook.State{}, Tasks: map[string]*task.State{}}
		deadline := time.After(2 * time.Second)
		err := askEach(engine, devs, deadline, func(r chan device.State) any { return &device.Snapshot{Reply: r} },
			func(_ string, st device.State) { snap.Devices = append(snap.Devices, st) })
		if err == nil {
			err = askEach(engine, plans, deadline, func(r chan plan.State) any { return &plan.Snapshot{Reply: r} },
				func(id string, st plan.State) { snap.Plans[id] = &st })
		}
		if err == nil {
			err = askEach(engine, alarms, deadline, func(r chan alarm.State) any { return &alarm.Snapshot{Reply: r} },
				func(id string, st alarm.State) { snap.Alarms[id] = &st })
		}
		if err == nil {
			err = askEach(engine, hooks, deadline, func(r chan webhook.State) any { return &webhook.Snapshot{Reply: r} },
				func(id string, st webhook.State) { snap.Webhooks[id] = &st })
		}
		if err == nil {
			err = askEach(engine, tasks, deadline, func(r chan task.State) any { return &task.Snapshot{Reply: r} },
				func(id string, st task.State) { snap.Tasks[id] = &st })
		}
		if err == nil {
			err = askEach(engine, streams, deadline, func(r chan stream.Info) any { return &stream.GetInfo{Reply: r} },
				func(id string, info stream.Info) {
					if info.State != "idle" {
						snap.Live = append(snap.Live, id)
					}
				})
		}
		if err != nil {
			m.reply <- fmt.Errorf("shard %d snapshot: %w", n, err)
			return
		}
		data, err := json.Marshal(&snap)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = snaps.Put(ctx, n, data)
			cancel()
		}
		m.reply <- err
	}()
}

// child is one child actor of a shard actor.
type child struct {
	id  string
	pid *actor.PID
}

// askEach asks every kid in turn (request makes the message carrying the
// reply channel) and hands each answer to put, until deadline.
func askEach[T any](engine *actor.Engine, kids []child, deadline <-chan time.Time, request func(chan T) any, put func(id string, v T)) error {
	for _, k := range kids {
		r := make(chan T, 1)
		engine.Send(k.pid, request(r))
		select {
		case v := <-r:
			put(k.id, v)
		case <-deadline:
			return fmt.Errorf("%s did not answer", k.id)
		}
	}
	return nil
}

// Snapshot snapshots shard n now (when it is active here).
func (h *Host) Snapshot(ctx context.Context, n int) error {
	pid := h.active[n].Load()
	if pid == nil || h.snaps == nil {
		return nil
	}
	reply := make(chan error, 1)
	h.engine.Send(pid, &takeSnapshot{reply: reply})
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshotLoop snapshots every shard this node owns every snapshotEvery,
// when the log moved since the last round.
func (h *Host) snapshotLoop() {
	var last uint64
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		seq, err := h.deps.Store.LastSeq(ctx)
		cancel()
		if err != nil || seq == last {
			continue
		}
		last = seq
		start := time.Now()
		taken := 0
		for n := range h.active {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if h.Owns(n) {
				if err := h.Snapshot(ctx, n); err != nil {
					h.deps.Log.Warn("shard snapshot failed", "shard", n, "err", err)
				} else {
					taken++
				}
			}
			cancel()
		}
		h.deps.Log.Debug("shard snapshots taken", "shards", taken, "took", time.Since(start).Round(time.Millisecond))
	}
}

// loadSnapshots reads the snapshots of shards (missing or unusable ones are
// nil: those shards fold their whole history).
func (h *Host) loadSnapshots(ctx context.Context, shards []int) (map[int]*shardState, map[int]uint64) {
	states, covers := map[int]*shardState{}, map[int]uint64{}
	if h.snaps == nil {
		return states, covers
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, n := range shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, err := h.snaps.Get(ctx, n)
			if err != nil || data == nil {
				if err != nil {
					h.deps.Log.Warn("shard snapshot unreadable; folding the whole shard", "shard", n, "err", err)
				}
				return
			}
			var snap shardSnapshot
			if err := json.Unmarshal(data, &snap); err != nil || snap.Shard != n || snap.Shards != h.shards {
				h.deps.Log.Warn("shard snapshot unusable; folding the whole shard", "shard", n, "err", err)
				return
			}
			st := newShardState()
			for i := range snap.Devices {
				d := snap.Devices[i]
				st.devices[d.ID] = &d
			}
			for id, p := range snap.Plans {
				st.plans[id] = p
			}
			for id, a := range snap.Alarms {
				st.alarms[id] = a
			}
			for id, w := range snap.Webhooks {
				st.webhooks[id] = w
			}
			for id, t := range snap.Tasks {
				st.tasks[id] = t
			}
			for _, id := range snap.Live {
				st.live[id] = true
			}
			mu.Lock()
			states[n], covers[n] = st, snap.Covers
			mu.Unlock()
		}()
	}
	wg.Wait()
	return states, covers
}

func newShardState() *shardState {
	return &shardState{devices: map[string]*device.State{}, plans: map[string]*plan.State{}, live: map[string]bool{},
		alarms: map[string]*alarm.State{}, webhooks: map[string]*webhook.State{}, tasks: map[string]*task.State{}}
}

package queue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Workers lists the registered workers (those whose registration has not
// expired), by id.
func (q *Queues) Workers(ctx context.Context) ([]*pb.WorkerInfo, error) {
	keys, err := q.workers.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*pb.WorkerInfo
	for k := range keys.Keys() {
		e, err := q.workers.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		w := &pb.WorkerInfo{}
		if proto.Unmarshal(e.Value(), w) == nil && time.Since(time.UnixMilli(w.UpdatedUnixMs)) <= WorkerTTL {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *pb.WorkerInfo) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

// Depth is what waits in one worker group.
type Depth struct {
	Group          string
	OnlineWaiting  int
	OfflineWaiting int // on the offline queue, no slot yet
	Backlog        int // offline tasks the scheduler holds back
}

// Depths is what waits in each group that has workers or waiting work.
func (q *Queues) Depths(ctx context.Context, workers []*pb.WorkerInfo) ([]Depth, error) {
	groups := map[string]*Depth{}
	group := func(g string) *Depth {
		if groups[g] == nil {
			groups[g] = &Depth{Group: g}
		}
		return groups[g]
	}
	for _, w := range workers {
		group(w.Group)
	}
	keys, err := q.backlog.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	for k := range keys.Keys() {
		if g, _, ok := strings.Cut(k, "."); ok {
			group(g).Backlog++
		}
	}
	info, err := q.stream.Info(ctx, jetstream.WithSubjectFilter(Prefix+".>"))
	if err != nil {
		return nil, err
	}
	for subj := range info.State.Subjects {
		if parts := strings.Split(subj, "."); len(parts) == 4 {
			group(parts[2])
		}
	}
	out := make([]Depth, 0, len(groups))
	for g, d := range groups {
		if d.OnlineWaiting, err = q.Waiting(ctx, g, Online); err != nil {
			return nil, err
		}
		if d.OfflineWaiting, err = q.Waiting(ctx, g, Offline); err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Depth) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/argus-vms/argus/actors/cluster"
	"github.com/argus-vms/argus/actors/edge"
	"github.com/argus-vms/argus/actors/media/playback"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/gateway"
	"github.com/argus-vms/argus/work/jobs"
	"github.com/argus-vms/argus/work/queue"
	"github.com/argus-vms/argus/work/scheduler"
	"github.com/argus-vms/argus/work/upload"
	"github.com/argus-vms/argus/work/worker"
	"github.com/nats-io/nats.go"
)

// taskDeps are the task actors' links to the work queues.
func taskDeps(q *queue.Queues) task.Deps {
	return task.Deps{Dispatch: q.Dispatch, Canceled: q.Cancel}
}

// liveSnapshotTTL is the life of the live URL a worker gets for a live
// snapshot.
const liveSnapshotTTL = time.Minute

// startTasks serves the workers' reports and live URL requests on this
// node, runs the offline scheduler while this node leads (the owner of
// shard 0), and this node's own worker slots.
func (n *node) startTasks(ctx context.Context, q *queue.Queues, gw *gateway.Server, env jobs.Env, slots int) error {
	if err := queue.ServeReports(ctx, q.Conn(), func(ctx context.Context, r *pb.ReportTask) (*pb.TaskReply, error) {
		return n.host.AskTask(ctx, r)
	}); err != nil {
		return err
	}
	if err := queue.ServeLive(ctx, q.Conn(), func(sp *pb.TaskSpec) (string, string, error) {
		if sp.Type != task.TypeLiveTranscode {
			live, err := gw.LiveRTSP(sp.Device, int(sp.Channel), sp.KeyId, liveSnapshotTTL)
			return live, "", err
		}
		live, err := gw.LiveRTSP(sp.Device, int(sp.Channel), edge.PeerKeyID, edgeTokenTTL)
		if err != nil {
			return "", "", err
		}
		publish, err := gw.PublishRTSP(sp.Device, int(sp.Channel), string(relay.CodecH264), edge.PeerKeyID, edgeTokenTTL)
		return live, publish, err
	}); err != nil {
		return err
	}
	n.wg.Go(func() {
		cluster.WhileLeading(ctx, func() bool { return n.host.Owns(0) }, func(ctx context.Context) {
			scheduler.Run(ctx, scheduler.Options{Queues: q, Log: n.log})
		})
	})
	if slots > 0 {
		n.wg.Go(func() {
			err := worker.Run(ctx, worker.Options{Queues: q, ID: *n.cfg.nodeID, Slots: slots, Env: env, Log: n.log})
			if err != nil && !errors.Is(err, context.Canceled) {
				n.log.Error("worker slots stopped", "err", err)
			}
		})
	}
	return nil
}

// jobEnv is what worker slots run jobs with: the segment index and the
// recording storage (results go there too).
func jobEnv(index *events.SegmentIndex, shards int, st storage.Storage, tmp string) jobs.Env {
	uploads := upload.New(st)
	return jobs.Env{Storage: st, Open: st.Open, TempDir: tmp,
		Upload: func(ctx context.Context, id string) (io.ReadCloser, error) {
			r, _, err := uploads.Open(ctx, id)
			return r, err
		},
		Segments: func(ctx context.Context, device string, channel int, from, to time.Time) ([]playback.Segment, error) {
			ref := events.Ref{Shard: events.ShardOf(device, shards), Kind: events.KindPlan, ID: events.ChannelID(device, channel)}
			segs, err := index.Range(ctx, ref, from, to)
			out := make([]playback.Segment, len(segs))
			for i, s := range segs {
				out[i] = playback.Segment{Key: s.Key, Start: time.UnixMilli(s.Start), End: time.UnixMilli(s.End), Bytes: s.Bytes}
			}
			return out, err
		}}
}

// scratchDir is the jobs' scratch directory under the data directory.
func scratchDir(data string) string {
	dir := filepath.Join(data, "tmp")
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// taskBackend is the gateway's view of tasks: the host's actors and the
// work queues.
type taskBackend struct {
	*shard.Host
	q *queue.Queues
}

func (b taskBackend) Workers(ctx context.Context) ([]*pb.WorkerInfo, error) { return b.q.Workers(ctx) }

func (b taskBackend) Depths(ctx context.Context) ([]gateway.QueueDepth, error) {
	ws, err := b.q.Workers(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := b.q.Depths(ctx, ws)
	out := make([]gateway.QueueDepth, len(ds))
	for i, d := range ds {
		out[i] = gateway.QueueDepth{Group: d.Group, OnlineWaiting: d.OnlineWaiting, OfflineWaiting: d.OfflineWaiting, Backlog: d.Backlog}
	}
	return out, err
}

// openQueues opens the work queues of a node.
func openQueues(ctx context.Context, nc *nats.Conn, replicas int, lease time.Duration, log *slog.Logger) (*queue.Queues, error) {
	q, err := queue.Open(ctx, nc, queue.Options{Replicas: replicas, Lease: lease, Create: true})
	if err != nil {
		return nil, err
	}
	log.Debug("work queues open", "lease", q.Lease())
	return q, nil
}

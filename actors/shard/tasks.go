package shard

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// spawnTask asks a shard actor for a task's actor (create: a new one when
// there is none).
type spawnTask struct {
	id     string
	create bool
	reply  chan *actor.PID
}

func taskKid(id string) string { return id + "#task" }

// callbackWindow: a finished task whose callbacks may still be under way
// gets an actor at activation for this long after it finished (deliveries
// give up after 24 h).
const callbackWindow = 24 * time.Hour

// wantsActor reports whether a folded task needs an actor at activation:
// it is queued or running, or it may still owe callbacks.
func wantsActor(st *task.State, now time.Time) bool {
	if !st.Exists() {
		return false
	}
	if !st.Terminal() {
		return true
	}
	return st.CallbackURL != "" && now.Sub(time.UnixMilli(st.FinishedAt)) < callbackWindow
}

// spawnTask starts (or finds) a task's actor. Finished tasks have none: the
// host reads them from the log.
func (s *shardActor) spawnTask(c *actor.Context, id string, st *task.State, create bool) *actor.PID {
	if pid, ok := s.kids[taskKid(id)]; ok {
		return pid
	}
	if st == nil && !create {
		return nil
	}
	pid := c.SpawnChild(task.New(s.tdeps, s.term, id, st), events.KindTask, actor.WithID(id), actor.WithInboxSize(16))
	s.kids[taskKid(id)] = pid
	s.tasks.Store(id, pid)
	actorsActive.Inc()
	s.actors.Add(1)
	return pid
}

// taskDone stops a finished task's actor.
func (s *shardActor) taskDone(c *actor.Context, id string) {
	pid, ok := s.kids[taskKid(id)]
	if !ok {
		return
	}
	delete(s.kids, taskKid(id))
	s.tasks.Delete(id)
	actorsActive.Dec()
	s.actors.Add(-1)
	c.Engine().Poison(pid)
}

func taskID(cmd proto.Message) string {
	if m, ok := cmd.(interface{ GetId() string }); ok {
		return m.GetId()
	}
	return ""
}

// AskTask routes a task command (submit, get, cancel, a worker's report)
// to its actor, wherever it runs.
func (h *Host) AskTask(ctx context.Context, cmd proto.Message) (*pb.TaskReply, error) {
	id := taskID(cmd)
	if !events.ValidID(id) {
		return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "id", Detail: events.IDRule}, nil
	}
	r, err := h.route(ctx, events.ShardOf(id, h.shards), cmd, func(ctx context.Context) (proto.Message, error) {
		return h.askTaskLocal(ctx, id, cmd)
	})
	if err != nil {
		return nil, err
	}
	tr, ok := r.(*pb.TaskReply)
	if !ok {
		return nil, fmt.Errorf("shard: unexpected reply %T", r)
	}
	return tr, nil
}

func (h *Host) askTaskLocal(ctx context.Context, id string, cmd proto.Message) (*pb.TaskReply, error) {
	n := events.ShardOf(id, h.shards)
	if !h.Owns(n) {
		return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "shard not active on this node"}, nil
	}
	_, create := cmd.(*pb.SubmitTask)
	pid, err := h.kidPID(ctx, &h.tasks, n, func(reply chan *actor.PID) any { return &spawnTask{id: id, create: create, reply: reply} }, id)
	if err != nil {
		return nil, err
	}
	if pid == nil {
		return h.finishedTask(ctx, n, id, cmd)
	}
	reply := make(chan *pb.TaskReply, 1)
	h.engine.Send(pid, &task.Ask{Cmd: cmd, Reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// finishedTask answers for a task without an actor from its events: a
// finished one (or none). Only reads: it is over.
func (h *Host) finishedTask(ctx context.Context, n int, id string, cmd proto.Message) (*pb.TaskReply, error) {
	evs, err := h.deps.Store.Load(ctx, events.Ref{Shard: n, Kind: events.KindTask, ID: id}, 0)
	if err != nil {
		return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: "event log unavailable; retry"}, nil
	}
	var st task.State
	for _, e := range evs {
		st.Apply(e)
	}
	if !st.Exists() {
		return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such task"}, nil
	}
	r := &pb.TaskReply{Task: st.View()}
	switch m := cmd.(type) {
	case *pb.CancelTask:
		return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Field: "state", Detail: "the task is " + st.Status + " already"}, nil
	case *pb.ReportTask:
		r.Stop = !st.Holds(m)
	}
	return r, nil
}

// kidPID finds an actor in the host's index, or asks the shard actor of
// shard n to spawn (or find) it.
func (h *Host) kidPID(ctx context.Context, index interface{ Load(any) (any, bool) }, n int, spawn func(chan *actor.PID) any, id string) (*actor.PID, error) {
	if v, ok := index.Load(id); ok {
		return v.(*actor.PID), nil
	}
	spid := h.running[n].Load()
	if spid == nil {
		return nil, ErrNotReady
	}
	reply := make(chan *actor.PID, 1)
	h.engine.Send(spid, spawn(reply))
	select {
	case pid := <-reply:
		return pid, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ListTasks lists the live (queued, running) tasks of the whole cluster,
// oldest first.
func (h *Host) ListTasks(ctx context.Context, q *pb.ListTasks) ([]*pb.TaskView, error) {
	items := h.tdeps.Directory.List(taskFilter(q))
	more, err := fromPeers(ctx, h, q, func(v any) ([]*pb.TaskView, bool) {
		l, ok := v.(*pb.TaskList)
		return l.GetItems(), ok
	})
	if err != nil {
		return nil, err
	}
	items = append(items, more...)
	slices.SortFunc(items, func(a, b *pb.TaskView) int {
		if a.CreatedAtUnixMs != b.CreatedAtUnixMs {
			return cmp.Compare(a.CreatedAtUnixMs, b.CreatedAtUnixMs)
		}
		return strings.Compare(a.Id, b.Id)
	})
	return slices.CompactFunc(items, func(a, b *pb.TaskView) bool { return a.Id == b.Id }), nil
}

func taskFilter(q *pb.ListTasks) func(*pb.TaskView) bool {
	return func(v *pb.TaskView) bool {
		return (q.State == "" || v.State == q.State) && (q.Type == "" || v.Type == q.Type) && (q.Device == "" || v.Spec.GetDevice() == q.Device)
	}
}

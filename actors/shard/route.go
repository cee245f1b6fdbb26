package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/cluster"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// The router actor of every node answers requests from other nodes' hosts:
// its PID is <peer address>/argus/node.
const (
	routerKind = "argus"
	routerID   = "node"
)

// routerPID is the router actor of the node whose peer address is peer.
func routerPID(peer string) *actor.PID { return actor.NewPID(peer, routerKind+"/"+routerID) }

// Ownership is the cluster's view of which node owns which shard
// (*cluster.Manager).
type Ownership interface {
	Owner(n int) (owner cluster.Member, self bool, ok bool)
	Peers() []cluster.Member
	Ready() bool
}

type ownershipBox struct{ o Ownership }

// SetOwnership makes the host route to other nodes (a cluster); without it
// the host is a single node.
func (h *Host) SetOwnership(o Ownership) { h.owners.Store(&ownershipBox{o}) }

func (h *Host) ownership() Ownership {
	if b := h.owners.Load(); b != nil {
		return b.o
	}
	return nil
}

// errMoved: the shard's owner changed (or died) while a request waited.
var errMoved = errors.New("shard: owner changed")

func notOwner(m proto.Message) bool {
	switch r := m.(type) {
	case *pb.DeviceReply:
		return r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_OWNER
	case *pb.PlanReply:
		return r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_OWNER
	case *pb.AlarmReply:
		return r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_OWNER
	case *pb.WebhookReply:
		return r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_OWNER
	case *pb.TaskReply:
		return r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_OWNER
	}
	return false
}

// route runs a request on the owner of shard n: here when this node owns
// it, else on the owner over hollywood remote. While the shard has no owner
// (failover, handoff) it retries for up to the handoff bound, then fails with
// ErrNotReady. A request is sent again only when it cannot have been
// applied: the owner said it does not own the shard, or it lost the shard
// while the request waited.
func (h *Host) route(ctx context.Context, n int, msg proto.Message, local func(context.Context) (proto.Message, error)) (proto.Message, error) {
	deadline := time.Now().Add(h.handoff)
	for {
		if h.stopped.Load() {
			return nil, ErrNotReady
		}
		if h.Owns(n) {
			r, err := local(ctx)
			if err != nil || !notOwner(r) {
				return r, err
			}
		} else if o := h.ownership(); o != nil {
			if owner, self, ok := o.Owner(n); ok && !self && h.peers.reachable(owner.Peer) {
				r, err := h.remote(ctx, o, n, owner, msg)
				if err == nil && !notOwner(r) {
					return r, nil
				}
				if err != nil && !errors.Is(err, errMoved) {
					return nil, err
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, ErrNotReady
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// remote sends msg to the owner's router and waits for the answer, giving
// up early when the owner loses the shard.
func (h *Host) remote(ctx context.Context, o Ownership, n int, owner cluster.Member, msg proto.Message) (proto.Message, error) {
	timeout := h.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	resp := h.engine.Request(routerPID(owner.Peer), msg, timeout)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := resp.Result()
		done <- result{v, err}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("shard %d on node %s: %w", n, owner.ID, r.err)
			}
			m, ok := r.v.(proto.Message)
			if !ok {
				return nil, fmt.Errorf("shard: node %s answered %T", owner.ID, r.v)
			}
			return m, nil
		case <-tick.C:
			if cur, self, ok := o.Owner(n); !ok || self || cur.Instance != owner.Instance {
				return nil, errMoved
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// List pages the devices of the whole cluster: this node's page merged with
// every other live node's (each node lists the devices it hosts).
func (h *Host) List(ctx context.Context, limit int, q *pb.ListDevices) ([]*pb.DeviceView, string, error) {
	items, next := h.deps.Directory.List(limit, q)
	o := h.ownership()
	if o == nil {
		return items, next, nil
	}
	more := next != ""
	req := proto.Clone(q).(*pb.ListDevices)
	req.Limit = uint32(limit)
	pages, err := fromPeers(ctx, h, req, func(v any) ([]*pb.DeviceList, bool) {
		l, ok := v.(*pb.DeviceList)
		return []*pb.DeviceList{l}, ok
	})
	if err != nil {
		return nil, "", err
	}
	for _, l := range pages {
		items = append(items, l.Items...)
		more = more || l.NextCursor != ""
	}
	slices.SortFunc(items, func(a, b *pb.DeviceView) int { return strings.Compare(a.Id, b.Id) })
	// A device moving between nodes may show up on both for a moment.
	items = slices.CompactFunc(items, func(a, b *pb.DeviceView) bool { return a.Id == b.Id })
	if len(items) > limit {
		items, more = items[:limit], true
	}
	next = ""
	if more && len(items) > 0 {
		next = items[len(items)-1].Id
	}
	return items, next, nil
}

// router answers other nodes' requests from this node's actors. Every
// message it sends back is protobuf: anything else would kill the sender's
// remote.
type router struct{ h *Host }

func newRouter(h *Host) actor.Producer {
	return func() actor.Receiver { return &router{h: h} }
}

func (r *router) Receive(c *actor.Context) {
	msg, ok := c.Message().(proto.Message)
	sender := c.Sender()
	if !ok || sender == nil {
		return
	}
	engine := c.Engine()
	go func() {
		// A requester that died meanwhile gets no answer (see peerGate).
		if reply := r.serve(msg); reply != nil && r.h.peers.reachable(sender.Address) {
			engine.Send(sender, reply)
		}
	}()
}

func (r *router) serve(msg proto.Message) proto.Message {
	h := r.h
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	unavailable := func(err error) *pb.DeviceReply {
		return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: err.Error()}
	}
	switch m := msg.(type) {
	case *pb.RegisterDevice, *pb.UpdateDevice, *pb.RemoveDevice, *pb.GetDevice, *pb.RecordPtz, *pb.RefreshOnvif, *pb.SetMotion:
		id := m.(interface{ GetId() string }).GetId()
		if !events.ValidID(id) {
			return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "id", Detail: events.IDRule}
		}
		rep, err := h.askLocal(ctx, id, m)
		if err != nil {
			return unavailable(err)
		}
		return rep
	case *pb.SetPlan, *pb.GetPlan:
		k := m.(interface {
			GetDevice() string
			GetChannel() uint32
		})
		if !events.ValidID(k.GetDevice()) || k.GetChannel() < 1 || k.GetChannel() > events.MaxChannels {
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "device", Detail: events.IDRule}
		}
		rep, err := h.askPlanLocal(ctx, k.GetDevice(), int(k.GetChannel()), m)
		if err != nil {
			return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: err.Error()}
		}
		return rep
	case *pb.RaiseAlarm, *pb.EndAlarm, *pb.AckAlarm, *pb.ClearAlarm, *pb.GetAlarm:
		slot, ok := slotOf(m)
		if !ok {
			return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such alarm"}
		}
		rep, err := h.askAlarmLocal(ctx, slot, m)
		if err != nil {
			return &pb.AlarmReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: err.Error()}
		}
		return rep
	case *pb.ListAlarms:
		return &pb.AlarmList{Items: h.adeps.Directory.List(m)}
	case *pb.CreateWebhook, *pb.UpdateWebhook, *pb.DeleteWebhook, *pb.GetWebhook, *pb.ReplayWebhook:
		id := webhookID(m)
		if !events.ValidID(id) {
			return &pb.WebhookReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "id", Detail: events.IDRule}
		}
		rep, err := h.askWebhookLocal(ctx, id, m)
		if err != nil {
			return &pb.WebhookReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: err.Error()}
		}
		return rep
	case *pb.ListWebhooks:
		return &pb.WebhookList{Items: h.wdeps.Directory.List(nil)}
	case *pb.SubmitTask, *pb.GetTask, *pb.CancelTask, *pb.ReportTask:
		id := taskID(m)
		if !events.ValidID(id) {
			return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "id", Detail: events.IDRule}
		}
		rep, err := h.askTaskLocal(ctx, id, m)
		if err != nil {
			return &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: err.Error()}
		}
		return rep
	case *pb.ListTasks:
		return &pb.TaskList{Items: h.tdeps.Directory.List(taskFilter(m))}
	case *pb.ListDevices:
		limit := int(m.Limit)
		if limit < 1 || limit > 1000 {
			limit = 1000
		}
		items, next := h.deps.Directory.List(limit, m)
		return &pb.DeviceList{Items: items, NextCursor: next}
	}
	return nil
}

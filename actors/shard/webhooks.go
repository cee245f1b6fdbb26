package shard

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/webhook"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// spawnWebhook asks a shard actor for a webhook's actor (create: a new
// one when there is none).
type spawnWebhook struct {
	id     string
	create bool
	reply  chan *actor.PID
}

func webhookKid(id string) string { return id + "#webhook" }

// spawnWebhook starts (or finds) a webhook's actor: every registered
// webhook has one while its shard is here (it delivers).
func (s *shardActor) spawnWebhook(c *actor.Context, id string, st *webhook.State, create bool) *actor.PID {
	if pid, ok := s.kids[webhookKid(id)]; ok {
		return pid
	}
	if st == nil && !create {
		return nil
	}
	pid := c.SpawnChild(webhook.New(s.wdeps, s.term, id, st), events.KindWebhook, actor.WithID(id), actor.WithInboxSize(8))
	s.kids[webhookKid(id)] = pid
	s.webhooks.Store(id, pid)
	actorsActive.Inc()
	s.actors.Add(1)
	return pid
}

func webhookID(cmd proto.Message) string {
	if m, ok := cmd.(interface{ GetId() string }); ok {
		return m.GetId()
	}
	return ""
}

// AskWebhook routes a webhook command to its actor, wherever it runs.
func (h *Host) AskWebhook(ctx context.Context, cmd proto.Message) (*pb.WebhookReply, error) {
	id := webhookID(cmd)
	if !events.ValidID(id) {
		return &pb.WebhookReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: "id", Detail: events.IDRule}, nil
	}
	r, err := h.route(ctx, events.ShardOf(id, h.shards), cmd, func(ctx context.Context) (proto.Message, error) {
		return h.askWebhookLocal(ctx, id, cmd)
	})
	if err != nil {
		return nil, err
	}
	wr, ok := r.(*pb.WebhookReply)
	if !ok {
		return nil, fmt.Errorf("shard: unexpected reply %T", r)
	}
	return wr, nil
}

func (h *Host) askWebhookLocal(ctx context.Context, id string, cmd proto.Message) (*pb.WebhookReply, error) {
	n := events.ShardOf(id, h.shards)
	if !h.Owns(n) {
		return &pb.WebhookReply{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "shard not active on this node"}, nil
	}
	pid, err := h.webhookPID(ctx, id, n, isCreate(cmd))
	if err != nil {
		return nil, err
	}
	if pid == nil {
		return &pb.WebhookReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such webhook"}, nil
	}
	reply := make(chan *pb.WebhookReply, 1)
	h.engine.Send(pid, &webhook.Ask{Cmd: cmd, Reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isCreate(cmd proto.Message) bool { _, ok := cmd.(*pb.CreateWebhook); return ok }

func (h *Host) webhookPID(ctx context.Context, id string, n int, create bool) (*actor.PID, error) {
	return h.kidPID(ctx, &h.webhooks, n, func(reply chan *actor.PID) any { return &spawnWebhook{id: id, create: create, reply: reply} }, id)
}

// ListWebhooks lists the webhooks of the whole cluster by id.
func (h *Host) ListWebhooks(ctx context.Context) ([]*pb.WebhookView, error) {
	items := h.wdeps.Directory.List(nil)
	more, err := fromPeers(ctx, h, &pb.ListWebhooks{}, func(v any) ([]*pb.WebhookView, bool) {
		l, ok := v.(*pb.WebhookList)
		return l.GetItems(), ok
	})
	if err != nil {
		return nil, err
	}
	items = append(items, more...)
	slices.SortFunc(items, func(a, b *pb.WebhookView) int { return strings.Compare(a.Id, b.Id) })
	return slices.CompactFunc(items, func(a, b *pb.WebhookView) bool { return a.Id == b.Id }), nil
}

package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/notify/hook"
	"github.com/argus-vms/argus/notify/webhook"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Deps are what every webhook actor on a node shares.
type Deps struct {
	Store    *events.Store
	Node     string
	Log      *slog.Logger
	Sealer   *secret.Sealer
	OnFenced func(events.Term)
	// Cursors holds every subscriber's delivery cursor (argus_delivery;
	// nil: webhooks are recorded but not delivered).
	Cursors jetstream.KeyValue
	// Client makes the signed HTTP attempts (with the SSRF guard).
	Client *webhook.Client
	// AllowPrivate lets webhooks target loopback and private networks
	// (--webhook-allow-private).
	AllowPrivate bool
	// MaxBackoff caps the wait between attempts of one delivery (default
	// 10 min; retries go on for up to 24 h).
	MaxBackoff time.Duration
	Directory  *aggregate.Directory[*pb.WebhookView]
}

// Hooks are the deps of the signed deliveries (notify/hook), shared with
// tasks' callbacks.
func (d *Deps) Hooks(log *slog.Logger) hook.Deps {
	return hook.Deps{Store: d.Store, Sealer: d.Sealer, Cursors: d.Cursors, Client: d.Client, MaxBackoff: d.MaxBackoff, Log: log}
}

// Ask carries a command from this node's router with a reply channel.
type Ask struct {
	Cmd   proto.Message
	Reply chan *pb.WebhookReply
}

// Snapshot asks for the webhook's state (the shard's snapshot).
type Snapshot struct{ Reply chan State }

// Actor hosts one webhook and, while it is enabled, its deliveries.
type Actor struct {
	deps    *Deps
	ref     events.Ref
	w       aggregate.Writer
	state   State
	run     *runner // deliveries under way (run.go), nil when none
	log     *attempts
	engine  *actor.Engine
	self    *actor.PID
	restart int // generation of the runner, so a stopped one's messages are ignored
}

// New returns the producer of a webhook's actor; st is its folded state
// (nil: a new webhook).
func New(deps *Deps, term events.Term, id string, st *State) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, ref: events.Ref{Shard: term.Shard, Kind: events.KindWebhook, ID: id}, log: newAttempts(200)}
		a.w = aggregate.Writer{Store: deps.Store, Ref: a.ref, Term: term, Node: deps.Node, Known: true, OnFenced: deps.OnFenced}
		if st != nil {
			a.state = *st
			a.w.Version, a.w.LastSeq = st.Version, st.LastSeq
		}
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.engine, a.self = c.Engine(), c.PID()
		a.publish()
		a.sync(false)
	case actor.Stopped:
		a.stopRunner()
		a.deps.Directory.Put(a.ref.ID, nil, false)
	case *Ask:
		if m.Reply == nil {
			break
		}
		reply, cmd := m.Reply, m.Cmd
		m.Cmd, m.Reply = nil, nil
		reply <- a.decide(cmd)
	case *Snapshot:
		m.Reply <- a.state
	case gone:
		if m.gen == a.restart {
			a.handle(nil, func() (*pb.Envelope, *aggregate.Rejection) { return DecideGone(&a.state, m.status), nil })
		}
	case ended:
		if m.gen == a.restart {
			a.runnerEnded(m)
		}
	case restart:
		if m.gen == a.restart && a.run == nil {
			a.sync(false)
		}
	case proto.Message: // from another node's router
		if r := a.decide(m); r != nil {
			c.Respond(r)
		}
	}
}

func (a *Actor) decide(cmd proto.Message) *pb.WebhookReply {
	switch m := cmd.(type) {
	case *pb.CreateWebhook:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) {
			return DecideCreate(&a.state, m, a.deps.AllowPrivate, a.deps.Sealer.Seal)
		})
	case *pb.UpdateWebhook:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideUpdate(&a.state, m, a.deps.AllowPrivate) })
	case *pb.DeleteWebhook:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideDelete(&a.state) })
	case *pb.ReplayWebhook:
		return a.handle(m.Meta, func() (*pb.Envelope, *aggregate.Rejection) { return DecideReplay(&a.state, m) })
	case *pb.GetWebhook:
		if !a.state.Registered {
			return reply(notFound())
		}
		r := &pb.WebhookReply{Webhook: a.state.View(a.deps.Node)}
		if m.Deliveries > 0 {
			r.Deliveries = a.log.last(int(m.Deliveries))
		}
		return r
	}
	return nil
}

// handle runs a decision through the decide → append → apply loop.
func (a *Actor) handle(meta *pb.CommandMeta, decide func() (*pb.Envelope, *aggregate.Rejection)) *pb.WebhookReply {
	_, err := a.w.Run(context.Background(), meta, aggregate.Decide(decide), a.apply)
	if rej := aggregate.Outcome(err); rej != nil {
		if rej.Code == pb.ReplyCode_REPLY_CODE_UNAVAILABLE {
			a.logger().Warn("webhook append failed", "webhook", a.ref.ID, "err", err)
		}
		return reply(rej)
	}
	if !a.state.Registered {
		return &pb.WebhookReply{}
	}
	return &pb.WebhookReply{Webhook: a.state.View(a.deps.Node)}
}

func (a *Actor) apply(e events.Event) {
	a.state.Apply(e)
	a.publish()
	r := e.Envelope.GetWebhookReplayed()
	a.syncFrom(r != nil, r.GetFromSeq())
	if e.Envelope.GetWebhookDeleted() != nil {
		a.dropCursor()
	}
}

func (a *Actor) publish() {
	a.deps.Directory.Put(a.ref.ID, a.state.View(a.deps.Node), a.state.Registered)
}

func (a *Actor) logger() *slog.Logger {
	if a.deps.Log != nil {
		return a.deps.Log
	}
	return slog.Default()
}

func reply(r *aggregate.Rejection) *pb.WebhookReply {
	return &pb.WebhookReply{Code: r.Code, Field: r.Field, Detail: r.Detail}
}

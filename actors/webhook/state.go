// Package webhook is the webhook aggregate: an outbound subscription to the
// event log (a URL, event filters, a signing secret), in the shard of its
// id. Its actor delivers while its shard is owned here, from a durable
// cursor (notify/delivery), so a node that dies hands the deliveries to
// the next owner with nothing lost.
package webhook

import (
	"slices"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// State is a webhook as its events left it.
type State struct {
	ID             string
	URL            string
	Events         []string
	SealedSecret   []byte
	Description    string
	Concurrency    uint32 // 0: the default
	Enabled        bool
	DisabledReason string
	CreatedBy      string
	CreatedAt      int64
	UpdatedAt      int64
	CreatedSeq     uint64 // deliveries of a new webhook start after its creation
	Registered     bool   // created and not deleted since
	Version        uint64
	LastSeq        uint64
}

// Apply folds one event.
// AppliedSeq is the log sequence of the last event folded in.
func (s *State) AppliedSeq() uint64 { return s.LastSeq }

func (s *State) Apply(e events.Event) {
	env := e.Envelope
	s.ID, s.Version, s.LastSeq, s.UpdatedAt = env.AggregateId, env.Version, e.Seq, env.TimeUnixMs
	switch p := env.Payload.(type) {
	case *pb.Envelope_WebhookCreated:
		c := p.WebhookCreated
		*s = State{ID: env.AggregateId, URL: c.Url, Events: slices.Clone(c.Events), SealedSecret: c.SealedSecret,
			Description: c.Description, Enabled: true, CreatedBy: c.CreatedBy, CreatedAt: env.TimeUnixMs, UpdatedAt: env.TimeUnixMs,
			CreatedSeq: e.Seq, Registered: true, Version: env.Version, LastSeq: e.Seq, Concurrency: c.Concurrency}
	case *pb.Envelope_WebhookUpdated:
		u := p.WebhookUpdated
		if u.Url != nil {
			s.URL = *u.Url
		}
		if u.Events != nil {
			s.Events = slices.Clone(u.Events.Events)
		}
		if u.Description != nil {
			s.Description = *u.Description
		}
		if u.Concurrency != nil {
			s.Concurrency = *u.Concurrency
		}
		if u.Enabled != nil {
			s.Enabled = *u.Enabled
			if s.Enabled {
				s.DisabledReason = ""
			}
		}
	case *pb.Envelope_WebhookDisabled:
		s.Enabled, s.DisabledReason = false, p.WebhookDisabled.Reason
	case *pb.Envelope_WebhookDeleted:
		s.Registered, s.Enabled = false, false
	}
}

// View is how the API shows the webhook: never its secret.
func (s *State) View(node string) *pb.WebhookView {
	if !s.Registered {
		return nil
	}
	return &pb.WebhookView{Id: s.ID, Url: s.URL, Events: slices.Clone(s.Events), Description: s.Description, Enabled: s.Enabled,
		DisabledReason: s.DisabledReason, CreatedAtUnixMs: s.CreatedAt, UpdatedAtUnixMs: s.UpdatedAt, Version: s.Version,
		CreatedBy: s.CreatedBy, Node: node, Concurrency: s.concurrency()}
}

// DefaultConcurrency is how many deliveries of a webhook are in flight at
// once unless it says otherwise (never two of one device).
const DefaultConcurrency = 4

func (s *State) concurrency() uint32 {
	if s.Concurrency == 0 {
		return DefaultConcurrency
	}
	return s.Concurrency
}

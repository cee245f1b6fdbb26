// Package hook runs the deliveries of one signed HTTP endpoint: a webhook
// subscription, or a task's callback_url (a one-task webhook). Both sign
// the same way (Standard Webhooks), keep a durable cursor in the delivery
// bucket and retry the same way; this is the one place that wires
// notify/delivery to notify/webhook's client.
package hook

import (
	"context"
	"log/slog"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/argus-vms/argus/notify/webhook"
	"github.com/nats-io/nats.go/jetstream"
)

// Deps are what every endpoint's deliveries on a node share.
type Deps struct {
	Store   *events.Store
	Sealer  *secret.Sealer
	Cursors jetstream.KeyValue // the delivery bucket (argus_delivery)
	Client  *webhook.Client    // signed attempts, with the SSRF guard
	// MaxBackoff caps the wait between attempts of one delivery (default
	// 10 min; retries go on for up to 24 h).
	MaxBackoff time.Duration
	Log        *slog.Logger
}

// Target is one endpoint and what it receives.
type Target struct {
	CursorKey string // its cursor in the delivery bucket
	URL       string
	Sealed    []byte   // its signing secret, sealed
	Filters   []string // subject filters of the log (nil: all of it)
	Match     func(payload.Notification) bool
	// After: a new cursor starts after this sequence.
	After       uint64
	Concurrency int
	OnAttempt   func(delivery.Attempt)
	OnGone      func() // the endpoint answered 410
}

// Run delivers until ctx ends, the endpoint is gone, or the cursor moved
// (delivery.Run's answers).
func Run(ctx context.Context, d Deps, t Target) error {
	secret, err := d.Sealer.Open(t.Sealed)
	if err != nil {
		return err
	}
	cur, start, err := delivery.OpenCursor(ctx, d.Cursors, t.CursorKey, t.After)
	if err != nil {
		return err
	}
	url := t.URL
	return delivery.Run(ctx, delivery.Options{Store: d.Store, Cursor: cur, Start: start, Log: d.Log, MaxBackoff: d.MaxBackoff,
		Concurrency: t.Concurrency, Filters: t.Filters, Match: t.Match, OnAttempt: t.OnAttempt, OnGone: t.OnGone,
		Deliver: func(ctx context.Context, n payload.Notification, body []byte, _ int) delivery.Result {
			return delivery.FromAttempt(d.Client.Deliver(ctx, url, secret, n.ID, time.Now(), body))
		},
	})
}

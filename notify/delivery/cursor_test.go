package delivery

import (
	"context"
	"errors"
	"testing"

	"github.com/argus-vms/argus/notify/webhook"
	"github.com/nats-io/nats.go/jetstream"
)

func TestCursor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	c1, seq := f.open("webhook_1", 7)
	if seq != 7 {
		t.Fatalf("new cursor at %d, want the start 7", seq)
	}
	// The start is written at once: a runner that dies before its first
	// Save does not let the next one start later.
	if _, seq := f.open("webhook_1", 99); seq != 7 {
		t.Fatalf("reopened new cursor at %d, want 7", seq)
	}
	if err := c1.Save(ctx, 10); err != nil {
		t.Fatal(err)
	}
	c2, seq := f.open("webhook_1", 0)
	if seq != 10 {
		t.Fatalf("reopened at %d, want 10", seq)
	}
	if err := c2.Save(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if err := c1.Save(ctx, 12); !errors.Is(err, ErrMoved) {
		t.Fatalf("save after another runner saved: %v, want ErrMoved", err)
	}

	// A Save whose answer was lost landed anyway: the next Save finds its
	// own value at a later revision and carries on.
	before := c2.rev
	if err := c2.Save(ctx, 13); err != nil {
		t.Fatal(err)
	}
	c2.rev = before
	if err := c2.Save(ctx, 14); err != nil {
		t.Fatalf("save after a lost answer: %v", err)
	}
	if got := f.saved("webhook_1"); got != 14 {
		t.Fatalf("saved %d, want 14", got)
	}

	if err := Reset(ctx, f.kv, "webhook_1", 3); err != nil {
		t.Fatal(err)
	}
	if err := c2.Save(ctx, 15); !errors.Is(err, ErrMoved) {
		t.Fatalf("save after a reset: %v, want ErrMoved", err)
	}
	if got := f.saved("webhook_1"); got != 3 {
		t.Fatalf("after reset at %d, want 3", got)
	}

	if err := f.kv.Delete(ctx, "webhook_1"); err != nil {
		t.Fatal(err)
	}
	c3, seq := f.open("webhook_1", 5)
	if seq != 5 {
		t.Fatalf("cursor of a deleted key at %d, want the start 5", seq)
	}
	if err := c3.Save(ctx, 6); err != nil {
		t.Fatal(err)
	}

	kv, err := EnsureBucket(ctx, f.store.JetStream(), 1) // again: opens it
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != Bucket || st.History() != 1 || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage != jetstream.FileStorage {
		t.Fatalf("bucket %s history %d", st.Bucket(), st.History())
	}
}

func TestFromAttempt(t *testing.T) {
	for _, c := range []struct {
		a               webhook.Attempt
		ok, retry, gone bool
	}{
		{webhook.Attempt{Status: 204}, true, false, false},
		{webhook.Attempt{Status: 503}, false, true, false},
		{webhook.Attempt{Status: 429}, false, true, false},
		{webhook.Attempt{Status: 410}, false, false, true},
		{webhook.Attempt{Status: 400}, false, false, false},
		{webhook.Attempt{Err: errors.New("connection reset")}, false, true, false},
		{webhook.Attempt{Err: webhook.ErrRefused}, false, false, false},
	} {
		r := FromAttempt(c.a)
		if r.OK != c.ok || r.Retry != c.retry || r.Gone != c.gone || r.Status != c.a.Status || r.Err != c.a.Err {
			t.Errorf("FromAttempt(%+v) = %+v", c.a, r)
		}
	}
	r := FromAttempt(webhook.Attempt{Status: 503, RetryAfter: 7, Latency: 9})
	if r.RetryAfter != 7 || r.Latency != 9 {
		t.Errorf("retry-after/latency not carried: %+v", r)
	}
}

package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
)

// An append whose connection breaks while it waits for the ack (so it may
// or may not have landed) is retried by the store after the client
// reconnects: whatever happened to the first attempt, it is one event and
// one success, fenced or not. Through a proxy cut right after the publish.
func TestAppendRetriedAfterALostAckIsOneEvent(t *testing.T) {
	srv := testenv.NewNATS(t)
	proxy := testenv.NewProxy(t, srv.Addr().String())
	nc, err := nats.Connect("nats://"+proxy.Addr(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	s, err := events.Open(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	term := events.Term{Shard: 1}
	acq := registered("x", 1)
	acq.EventId = "acquired"
	if term.Seq, err = s.Append(ctx, events.ShardRef(1), acq, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		ref := events.Ref{Shard: 1, Kind: events.KindDevice, ID: fmt.Sprintf("lost%d", i)}
		env := registered(ref.ID, 1)
		done := make(chan error, 1)
		go func() {
			var err error
			if i%2 == 0 {
				_, err = s.Append(ctx, ref, env, 0)
			} else {
				_, err = s.AppendInTerm(ctx, ref, env, 0, term)
			}
			done <- err
		}()
		time.Sleep(time.Duration(i%4) * 200 * time.Microsecond) // before, around and after the server stores it
		proxy.Cut()
		time.Sleep(300 * time.Millisecond)
		proxy.Heal()
		if err := <-done; err != nil {
			t.Fatalf("append %d across a cut connection: %v", i, err)
		}
		evs, err := s.Load(ctx, ref, 0)
		if err != nil || len(evs) != 1 {
			t.Fatalf("append %d: %d events, %v", i, len(evs), err)
		}
	}
}

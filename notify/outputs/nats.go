package outputs

import (
	"context"
	"time"

	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SubjectPrefix is where NATS out publishes: argus.out.<type>.<device>.
const SubjectPrefix = "argus.out"

// Subject is a notification's NATS subject ("_" for events of no device).
func Subject(n payload.Notification) string {
	d := n.Device
	if d == "" {
		d = "_"
	}
	return SubjectPrefix + "." + n.Type + "." + d
}

// NATS publishes the events the filter takes as JSON on
// argus.out.<type>.<device> of the cluster's own NATS; a delivery is done
// once the server took the message (a flush). A business system that must
// not miss one while it is away keeps the subjects in a stream of its own:
// the Nats-Msg-Id header (the event id) lets the stream drop redeliveries.
// (A JetStream publish would wait for an ack that plain subscribers never
// send.)
func NATS(nc *nats.Conn, filter []string) Output {
	return Output{
		Name:  "nats",
		Match: func(n payload.Notification) bool { return payload.Match(filter, n.Type) },
		Open:  func(context.Context) (Sink, error) { return &natsSink{nc: nc}, nil },
	}
}

type natsSink struct{ nc *nats.Conn }

func (s *natsSink) Close() {}

func (s *natsSink) Deliver(ctx context.Context, n payload.Notification, body []byte) delivery.Result {
	start := time.Now()
	msg := &nats.Msg{Subject: Subject(n), Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, n.ID)
	err := s.nc.PublishMsg(msg)
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = s.nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		return delivery.Result{Retry: true, Err: err, Latency: time.Since(start)}
	}
	return delivery.Result{OK: true, Latency: time.Since(start)}
}

package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

var (
	lagGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "argus_projection_lag",
		Help: "Events in the log not yet projected into ClickHouse, by projector.",
	}, []string{"projector"})
	projectedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "argus_projected_events_total",
		Help: "Events written to ClickHouse, by projector.",
	}, []string{"projector"})
	insertErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "argus_projection_errors_total",
		Help: "Failed ClickHouse batch inserts (retried), by projector.",
	}, []string{"projector"})
)

func init() { prometheus.MustRegister(lagGauge, projectedTotal, insertErrors) }

// Sink writes one batch of events to ClickHouse. It must be idempotent: after
// a failure the same events come again.
type Sink interface {
	Name() string
	Write(ctx context.Context, batch []events.Event) error
}

// Projector feeds a sink from a durable pull consumer: fetch a batch, write
// it, ack it (AckAll on the last message). ClickHouse down → the write is
// retried with backoff and nothing is acked, so JetStream keeps everything.
type Projector struct {
	sink     Sink
	stream   jetstream.Stream
	consumer jetstream.Consumer
	log      *slog.Logger
	batch    int
}

// ConsumerName is the durable consumer of a projector.
func ConsumerName(sink string) string { return "proj_" + sink }

// streamSubject is the one subject filter of the stream (argus.evt.>, or
// argus.seg.> for the segment index).
func streamSubject(stream jetstream.Stream) string {
	if info := stream.CachedInfo(); info != nil && len(info.Config.Subjects) == 1 {
		return info.Config.Subjects[0]
	}
	return events.SubjectPrefix + ".>"
}

// NewProjector creates (or resumes) the projector's durable consumer.
func NewProjector(ctx context.Context, stream jetstream.Stream, sink Sink, log *slog.Logger) (*Projector, error) {
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName(sink.Name()),
		Description:   "ClickHouse projection " + sink.Name(),
		FilterSubject: streamSubject(stream),
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       2 * time.Minute,
		MaxAckPending: 50000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("projector %s: consumer: %w", sink.Name(), err)
	}
	// Messages delivered to an earlier projector that stopped or died before
	// writing them would otherwise wait for AckWait — and the AckAll of the
	// next batch would acknowledge them unwritten. Deliver again from the
	// ack floor, in order.
	if info := cons.CachedInfo(); info != nil && info.NumAckPending > 0 {
		if _, err := stream.ResetConsumer(ctx, ConsumerName(sink.Name())); err != nil {
			return nil, fmt.Errorf("projector %s: redeliver %d unacknowledged events: %w", sink.Name(), info.NumAckPending, err)
		}
		log.Info("redelivering events an earlier projector left unacknowledged", "projector", sink.Name(),
			"events", info.NumAckPending, "from_seq", info.AckFloor.Stream+1)
	}
	return &Projector{sink: sink, stream: stream, consumer: cons, log: log, batch: 5000}, nil
}

// Run projects until ctx ends.
func (p *Projector) Run(ctx context.Context) {
	name := p.sink.Name()
	lagTick := time.NewTicker(time.Second)
	defer lagTick.Stop()
	for ctx.Err() == nil {
		select {
		case <-lagTick.C:
			p.updateLag(ctx)
		default:
		}
		msgs, err := p.consumer.Fetch(p.batch, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			p.pause(ctx, "fetch", err)
			continue
		}
		var (
			batch []events.Event
			last  jetstream.Msg
		)
		for m := range msgs.Messages() {
			last = m
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			env := &pb.Envelope{}
			if err := proto.Unmarshal(m.Data(), env); err != nil {
				// A message no projection can read: skip it rather than wedge.
				p.log.Error("undecodable event skipped", "projector", name, "seq", md.Sequence.Stream, "err", err)
				continue
			}
			batch = append(batch, events.Event{Seq: md.Sequence.Stream, Subject: m.Subject(), Envelope: env})
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
			p.log.Debug("fetch ended", "projector", name, "err", err)
		}
		if last == nil {
			continue
		}
		if !p.write(ctx, batch) {
			return
		}
		if err := last.Ack(); err != nil {
			p.log.Warn("ack failed; the batch will be redelivered", "projector", name, "err", err)
		}
		projectedTotal.WithLabelValues(name).Add(float64(len(batch)))
	}
}

// write retries until the batch is in ClickHouse or ctx ends.
func (p *Projector) write(ctx context.Context, batch []events.Event) bool {
	if len(batch) == 0 {
		return true
	}
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := p.sink.Write(wctx, batch)
		cancel()
		if err == nil {
			if attempt > 0 {
				p.log.Info("clickhouse writes resumed", "projector", p.sink.Name(), "attempts", attempt+1)
			}
			return true
		}
		insertErrors.WithLabelValues(p.sink.Name()).Inc()
		if attempt == 0 {
			p.log.Warn("clickhouse write failed; retrying, nothing is lost", "projector", p.sink.Name(), "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (p *Projector) pause(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		p.log.Debug("projector "+what, "projector", p.sink.Name(), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Lag is the number of events not yet acknowledged by this projector.
func (p *Projector) Lag(ctx context.Context) (uint64, error) {
	info, err := p.consumer.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

func (p *Projector) updateLag(ctx context.Context) {
	if lag, err := p.Lag(ctx); err == nil {
		lagGauge.WithLabelValues(p.sink.Name()).Set(float64(lag))
	}
}

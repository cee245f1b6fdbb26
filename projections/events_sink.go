package projections

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
)

// EventsSink writes every event to argus.events, payload as redacted JSON.
type EventsSink struct {
	Conn  driver.Conn
	Table string // default argus.events
}

func (s *EventsSink) Name() string { return "events" }

func (s *EventsSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".events"
}

func (s *EventsSink) Write(ctx context.Context, batch []events.Event) error {
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+
		" (seq, time, time_ms, type, aggregate_kind, aggregate_id, version, node, event_id, causation_id, correlation_id, data)")
	if err != nil {
		return err
	}
	defer b.Abort()
	for _, e := range batch {
		env := e.Envelope
		if err := b.Append(e.Seq, time.UnixMilli(env.TimeUnixMs).UTC(), uint64(env.TimeUnixMs), env.Type,
			env.AggregateKind, env.AggregateId, env.Version, env.Node, env.EventId,
			env.CausationId, env.CorrelationId, string(events.DataJSON(env))); err != nil {
			return err
		}
	}
	return b.Send()
}

package projections

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// AuditSink keeps argus.audit: one row per view (stream.viewed,
// recording.viewed), keyed by the event's seq, so "who watched what" is
// one query.
type AuditSink struct {
	Conn  driver.Conn
	Table string // default argus.audit
}

func (s *AuditSink) Name() string { return "audit" }

func (s *AuditSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".audit"
}

// auditRow is one view as the table holds it.
type auditRow struct {
	kind, device, keyID, client, protocol string
	channel                               uint32
	startMS, endMS, bytes, fromMS, toMS   int64
}

func viewRow(env *pb.Envelope) (auditRow, bool) {
	switch p := env.Payload.(type) {
	case *pb.Envelope_StreamViewed:
		v := p.StreamViewed
		return auditRow{"live", v.Device, v.KeyId, v.Client, v.Protocol, v.Channel, v.StartUnixMs, v.EndUnixMs, int64(v.Bytes), 0, 0}, true
	case *pb.Envelope_RecordingViewed:
		v := p.RecordingViewed
		return auditRow{"recording", v.Device, v.KeyId, v.Client, v.Protocol, v.Channel, v.StartUnixMs, v.EndUnixMs, int64(v.Bytes), v.FromUnixMs, v.ToUnixMs}, true
	}
	return auditRow{}, false
}

func (s *AuditSink) Write(ctx context.Context, batch []events.Event) error {
	var b driver.Batch
	for _, e := range batch {
		r, ok := viewRow(e.Envelope)
		if !ok {
			continue
		}
		if b == nil {
			var err error
			if b, err = s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+
				" (kind, device, channel, key_id, client, protocol, start, start_ms, end_ms, bytes, from_ms, to_ms, node, seq)"); err != nil {
				return err
			}
			defer b.Abort()
		}
		if err := b.Append(r.kind, r.device, r.channel, r.keyID, r.client, r.protocol, time.UnixMilli(r.startMS).UTC(),
			uint64(max(r.startMS, 0)), uint64(max(r.endMS, 0)), uint64(max(r.bytes, 0)), uint64(max(r.fromMS, 0)), uint64(max(r.toMS, 0)),
			e.Envelope.Node, e.Seq); err != nil {
			return err
		}
	}
	if b == nil {
		return nil
	}
	return b.Send()
}

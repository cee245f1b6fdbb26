package projections

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/events"
)

// AlarmsSink keeps argus.alarms: one row per alarm (ReplacingMergeTree by
// seq), folded with the aggregate's own Alarm.Fold on top of the row
// ClickHouse has (loaded once per alarm per process); events at or below
// the row's seq are skipped, so redelivery is harmless.
type AlarmsSink struct {
	Conn  driver.Conn
	Table string // default argus.alarms

	cache map[string]*alarmRow
}

// alarmRow is an alarm as written to ClickHouse.
type alarmRow struct {
	slot events.AlarmSlot
	a    alarm.Alarm
}

func (s *AlarmsSink) Name() string { return "alarms" }

func (s *AlarmsSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".alarms"
}

// alarmOf is the alarm an event is about ("" when it is no alarm event).
func alarmOf(e events.Event) (events.AlarmSlot, string) {
	if e.Envelope.AggregateKind != events.KindAlarm {
		return events.AlarmSlot{}, ""
	}
	n := alarm.NumberOf(e.Envelope)
	slot, ok := events.ParseAlarmSlot(e.Envelope.AggregateId)
	if n == 0 || !ok {
		return events.AlarmSlot{}, ""
	}
	return slot, slot.AlarmID(n)
}

func (s *AlarmsSink) Write(ctx context.Context, batch []events.Event) error {
	if s.cache == nil {
		s.cache = map[string]*alarmRow{}
	}
	var missing []string
	for _, e := range batch {
		if _, id := alarmOf(e); id != "" && s.cache[id] == nil && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 && !slices.ContainsFunc(batch, func(e events.Event) bool { _, id := alarmOf(e); return id != "" }) {
		return nil
	}
	if err := s.load(ctx, missing); err != nil {
		return err
	}
	// Fold into copies: the cache changes only once the insert succeeded.
	next := map[string]*alarmRow{}
	for _, e := range batch {
		slot, id := alarmOf(e)
		if id == "" {
			continue
		}
		r := next[id]
		if r == nil {
			r = &alarmRow{slot: slot}
			if old := s.cache[id]; old != nil {
				*r = *old
			}
			next[id] = r
		}
		if e.Seq <= r.a.LastSeq {
			continue // redelivered
		}
		r.a.Fold(e)
	}
	if len(next) > 0 {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+" (id, device, channel, type, source, severity, message, state, active, "+
			"raised_at, raised_at_ms, last_at_ms, ended_at_ms, count, acked_by, acked_at_ms, note, cleared_by, cleared_at_ms, clear_reason, "+
			"snapshot_key, raised_by, trigger, seq)")
		if err != nil {
			return err
		}
		defer b.Abort()
		for id, r := range next {
			a := &r.a
			if a.Number == 0 {
				continue // events of an alarm whose raise was never seen (a trimmed log)
			}
			if err := b.Append(id, r.slot.Device, uint32(r.slot.Channel), r.slot.Type, a.Source, a.Severity, a.Message, a.State, boolByte(a.Active),
				time.UnixMilli(a.RaisedAt), ums(a.RaisedAt), ums(a.LastAt), ums(a.EndedAt), a.Count, a.AckedBy, ums(a.AckedAt), a.Note,
				a.ClearedBy, ums(a.ClearedAt), a.ClearReason, a.SnapshotKey, a.RaisedBy, a.Trigger, a.LastSeq); err != nil {
				return err
			}
		}
		if err := b.Send(); err != nil {
			return err
		}
	}
	maps.Copy(s.cache, next)
	return nil
}

// load fills the cache from ClickHouse for alarms it lacks.
func (s *AlarmsSink) load(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		items, err := queryAlarms(ctx, s.Conn, s.table(), "id IN ?", []any{inSet(chunk)}, "", 0)
		if err != nil {
			return err
		}
		for _, v := range items {
			slot, _, _ := events.ParseAlarmID(v.Id)
			s.cache[v.Id] = &alarmRow{slot: slot, a: alarm.FromView(v)}
		}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func ums(ms int64) uint64 { return uint64(max(ms, 0)) }

package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events/pb"
)

// AlarmQuery filters the alarm history (zero values: any).
type AlarmQuery struct {
	ID                            string
	Device, Type, Severity, State string
	From, To                      time.Time // raised in [From, To)
	Limit                         int
	// After: the page starts after this alarm (raised_at_ms, id) in
	// newest-first order.
	AfterMS int64
	AfterID string
}

const alarmColumns = "id, device, channel, type, source, severity, message, state, active, raised_at_ms, last_at_ms, ended_at_ms, " +
	"count, acked_by, acked_at_ms, note, cleared_by, cleared_at_ms, clear_reason, snapshot_key, raised_by, trigger, seq"

// queryAlarms reads alarm rows (FINAL) matching where.
func queryAlarms(ctx context.Context, conn driver.Conn, table, where string, args []any, order string, limit int) ([]*pb.AlarmView, error) {
	q := "SELECT " + alarmColumns + " FROM " + table + " FINAL WHERE " + where + order
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*pb.AlarmView
	for rows.Next() {
		var (
			v                                   pb.AlarmView
			active                              uint8
			raised, last, ended, acked, cleared uint64
		)
		if err := rows.Scan(&v.Id, &v.Device, &v.Channel, &v.Type, &v.Source, &v.Severity, &v.Message, &v.State, &active,
			&raised, &last, &ended, &v.Count, &v.AckedBy, &acked, &v.Note, &v.ClearedBy, &cleared, &v.ClearReason,
			&v.SnapshotKey, &v.RaisedBy, &v.Trigger, &v.Seq); err != nil {
			return nil, err
		}
		v.Active = active == 1
		v.RaisedAtUnixMs, v.LastAtUnixMs, v.EndedAtUnixMs = int64(raised), int64(last), int64(ended)
		v.AckedAtUnixMs, v.ClearedAtUnixMs = int64(acked), int64(cleared)
		out = append(out, &v)
	}
	return out, rows.Err()
}

// Alarms: see Analytics.Alarms.
func (s *Service) Alarms(ctx context.Context, q AlarmQuery) ([]*pb.AlarmView, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Alarms(ctx, q)
}

// AlarmStats: see Analytics.AlarmStats.
func (s *Service) AlarmStats(ctx context.Context, from, to time.Time, groupBy string) ([]AlarmsItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.AlarmStats(ctx, from, to, groupBy)
}

// Alarms pages the alarm history, newest raise first.
func (a *Analytics) Alarms(ctx context.Context, q AlarmQuery) ([]*pb.AlarmView, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.ID != "" {
		add("id = ?", q.ID)
	}
	if q.Device != "" {
		add("device = ?", q.Device)
	}
	if q.Type != "" {
		add("type = ?", q.Type)
	}
	if q.Severity != "" {
		add("severity = ?", q.Severity)
	}
	switch q.State {
	case "":
	case "open":
		where = append(where, "state != 'cleared'")
	default:
		add("state = ?", q.State)
	}
	if !q.From.IsZero() {
		add("raised_at_ms >= ?", uint64(q.From.UnixMilli()))
	}
	if !q.To.IsZero() {
		add("raised_at_ms < ?", uint64(q.To.UnixMilli()))
	}
	if q.AfterID != "" {
		where = append(where, "(raised_at_ms < ? OR (raised_at_ms = ? AND id > ?))")
		args = append(args, uint64(q.AfterMS), uint64(q.AfterMS), q.AfterID)
	}
	if len(where) == 0 {
		where = append(where, "1")
	}
	return queryAlarms(ctx, a.Conn, a.db()+".alarms", strings.Join(where, " AND "), args, " ORDER BY raised_at_ms DESC, id ASC", q.Limit)
}

// AlarmsItem is one group of GET /v1/analytics/alarms.
type AlarmsItem struct {
	Key          string `json:"key"` // the device, the type, or the hour (RFC 3339)
	Raised       uint64 `json:"raised"`
	Triggers     uint64 `json:"triggers"`     // raises and repeats
	Acknowledged uint64 `json:"acknowledged"` // acknowledged or cleared by someone after an ack
	Open         uint64 `json:"open"`
	// MeanAckSeconds: raise to acknowledgement, over acknowledged alarms.
	MeanAckSeconds float64 `json:"mean_ack_seconds"`
}

// AlarmStats counts the alarms raised in [from, to) grouped by device,
// type or hour.
func (a *Analytics) AlarmStats(ctx context.Context, from, to time.Time, groupBy string) ([]AlarmsItem, error) {
	key := map[string]string{"device": "device", "type": "type",
		"hour": "toString(intDiv(raised_at_ms, 3600000) * 3600)"}[groupBy]
	if key == "" {
		return nil, fmt.Errorf("projections: group_by %q", groupBy)
	}
	rows, err := a.Conn.Query(ctx, "SELECT "+key+" AS k, count(), sum(count), countIf(acked_at_ms > 0), countIf(state != 'cleared'), "+
		"avgIf((acked_at_ms - raised_at_ms) / 1000, acked_at_ms >= raised_at_ms AND acked_at_ms > 0) FROM "+a.db()+
		".alarms FINAL WHERE raised_at_ms >= ? AND raised_at_ms < ? GROUP BY k ORDER BY k", uint64(from.UnixMilli()), uint64(to.UnixMilli()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AlarmsItem
	for rows.Next() {
		var it AlarmsItem
		var mean float64
		if err := rows.Scan(&it.Key, &it.Raised, &it.Triggers, &it.Acknowledged, &it.Open, &mean); err != nil {
			return nil, err
		}
		if mean == mean { // avgIf of nothing is NaN
			it.MeanAckSeconds = mean
		}
		if groupBy == "hour" {
			var sec int64
			fmt.Sscan(it.Key, &sec)
			it.Key = time.Unix(sec, 0).UTC().Format(time.RFC3339)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

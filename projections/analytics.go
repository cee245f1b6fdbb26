package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The analytics queries over the projections. They run on ClickHouse 18.16
// and 25.x alike: no toStartOfInterval, DateTime64 or parameterized types;
// times are epoch milliseconds (UInt64) and buckets intDiv(time_ms, step)*step.

// UptimeItem is one device's online time within a window.
type UptimeItem struct {
	Device        string  `json:"device"`
	OnlineSeconds float64 `json:"online_seconds"`
	Ratio         float64 `json:"ratio"`
}

// RecordingsItem is recorded hours and bytes of one group (a device, or a
// UTC day as YYYY-MM-DD).
type RecordingsItem struct {
	Key   string  `json:"key"`
	Hours float64 `json:"hours"`
	Bytes uint64  `json:"bytes"`
}

// EventsItem is the number of events of one type within one time bucket.
type EventsItem struct {
	Bucket time.Time `json:"bucket"`
	Type   string    `json:"type"`
	Count  uint64    `json:"count"`
}

// StreamsItem is the live viewing of one device within a window.
type StreamsItem struct {
	Device        string  `json:"device"`
	ViewerMinutes float64 `json:"viewer_minutes"`
	PeakReaders   uint32  `json:"peak_readers"`
}

// Analytics runs the analytics queries against the tables of database DB
// (Database unless a test or a side-by-side install says otherwise).
type Analytics struct {
	Conn driver.Conn
	DB   string
	Now  func() time.Time // default time.Now; ends open intervals
}

func (a *Analytics) db() string {
	if a.DB != "" {
		return a.DB
	}
	return Database
}

func (a *Analytics) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Uptime is each device's online seconds within [from, to): the overlap of
// its online intervals with the window, an open interval counting up to
// min(now, to); ratio = online seconds / (to - from). device "" = every
// device with a status interval overlapping the window.
func (a *Analytics) Uptime(ctx context.Context, from, to time.Time, device string) ([]UptimeItem, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("uptime: to must be after from")
	}
	end := min(ms(a.now()), ms(to))
	q := `SELECT device,
		sum(if(status = 'online',
			greatest(toInt64(0), least(if(end_ms = 0, toInt64(?), toInt64(end_ms)), toInt64(?)) - greatest(toInt64(start_ms), toInt64(?))),
			toInt64(0))) AS online_ms
		FROM ` + a.db() + `.device_status FINAL
		WHERE start_ms < ? AND (end_ms = 0 OR end_ms > ?)`
	args := []any{end, ms(to), ms(from), uint64(ms(to)), uint64(max(ms(from), 0))}
	if device != "" {
		q += ` AND device = ?`
		args = append(args, device)
	}
	q += ` GROUP BY device ORDER BY device`
	rows, err := a.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	window := float64(ms(to)-ms(from)) / 1000
	out := []UptimeItem{}
	for rows.Next() {
		var (
			it       UptimeItem
			onlineMS int64
		)
		if err := rows.Scan(&it.Device, &onlineMS); err != nil {
			return nil, err
		}
		it.OnlineSeconds = float64(onlineMS) / 1000
		it.Ratio = it.OnlineSeconds / window
		out = append(out, it)
	}
	return out, rows.Err()
}

// Recordings is recorded hours and bytes of the segments starting within
// [from, to) (deleted ones left out), grouped by "device" or "day" (UTC).
func (a *Analytics) Recordings(ctx context.Context, from, to time.Time, groupBy string) ([]RecordingsItem, error) {
	var key string
	switch groupBy {
	case "device":
		key = "device"
	case "day":
		key = "toString(intDiv(start_ms, 86400000))"
	default:
		return nil, fmt.Errorf("recordings: group_by must be device or day")
	}
	rows, err := a.Conn.Query(ctx, `SELECT `+key+` AS k, sum(duration_ms), sum(bytes)
		FROM `+a.db()+`.recordings FINAL
		WHERE deleted = 0 AND start_ms >= ? AND start_ms < ?
		GROUP BY k ORDER BY k`, uint64(max(ms(from), 0)), uint64(max(ms(to), 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RecordingsItem{}
	for rows.Next() {
		var (
			it  RecordingsItem
			dur uint64
		)
		if err := rows.Scan(&it.Key, &dur, &it.Bytes); err != nil {
			return nil, err
		}
		if groupBy == "day" {
			var day int64
			if _, err := fmt.Sscan(it.Key, &day); err == nil {
				it.Key = time.UnixMilli(day * 86400000).UTC().Format(time.DateOnly)
			}
		}
		it.Hours = float64(dur) / 3_600_000
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y RecordingsItem) int { return strings.Compare(x.Key, y.Key) })
	return out, nil
}

// EventIntervals are the bucket widths Events accepts.
var EventIntervals = map[string]time.Duration{
	"1m": time.Minute, "5m": 5 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour,
}

// Events counts the events of each type per bucket of width interval
// within [from, to); buckets are aligned to the epoch (UTC).
func (a *Analytics) Events(ctx context.Context, from, to time.Time, interval time.Duration) ([]EventsItem, error) {
	step := uint64(interval.Milliseconds())
	if step == 0 {
		return nil, fmt.Errorf("events: interval must be at least 1ms")
	}
	rows, err := a.Conn.Query(ctx, `SELECT intDiv(time_ms, ?) * ? AS bucket, type, count()
		FROM `+a.db()+`.events FINAL
		WHERE time_ms >= ? AND time_ms < ?
		GROUP BY bucket, type ORDER BY bucket, type`, step, step, uint64(max(ms(from), 0)), uint64(max(ms(to), 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EventsItem{}
	for rows.Next() {
		var (
			it     EventsItem
			bucket uint64
		)
		if err := rows.Scan(&bucket, &it.Type, &it.Count); err != nil {
			return nil, err
		}
		it.Bucket = time.UnixMilli(int64(bucket)).UTC()
		out = append(out, it)
	}
	return out, rows.Err()
}

// Streams is per device the viewer-minutes and peak readers of the pull
// sessions overlapping [from, to). Viewer-minutes are approximate: the sum
// over sessions of (session time inside the window) × (the session's peak
// readers), since the log records a session's peak, not readers over time.
// An open session counts up to min(now, to) but has no peak yet (it comes
// with stream.stopped), so it adds no viewer-minutes until it ends.
func (a *Analytics) Streams(ctx context.Context, from, to time.Time) ([]StreamsItem, error) {
	end := min(ms(a.now()), ms(to))
	rows, err := a.Conn.Query(ctx, `SELECT device,
		sum(greatest(toInt64(0), least(if(end_ms = 0, toInt64(?), toInt64(end_ms)), toInt64(?)) - greatest(toInt64(start_ms), toInt64(?))) * toInt64(peak_readers)) AS reader_ms,
		max(peak_readers)
		FROM `+a.db()+`.stream_sessions FINAL
		WHERE start_ms < ? AND (end_ms = 0 OR end_ms > ?)
		GROUP BY device ORDER BY device`, end, ms(to), ms(from), uint64(max(ms(to), 0)), uint64(max(ms(from), 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []StreamsItem{}
	for rows.Next() {
		var (
			it       StreamsItem
			readerMS int64
		)
		if err := rows.Scan(&it.Device, &readerMS, &it.PeakReaders); err != nil {
			return nil, err
		}
		it.ViewerMinutes = float64(readerMS) / 60_000
		out = append(out, it)
	}
	return out, rows.Err()
}

// AuditItem is one view of a channel.
type AuditItem struct {
	Kind     string    `json:"kind"` // live | recording
	Device   string    `json:"device"`
	Channel  uint32    `json:"channel"`
	KeyID    string    `json:"key_id"`
	Client   string    `json:"client"`
	Protocol string    `json:"protocol"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Bytes    uint64    `json:"bytes"`
	// From and To: the recorded range viewed (recordings).
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	Node string     `json:"node"`
}

// Audit lists the views that started in [from, to), oldest first, of one
// device and/or key when given; at most limit.
func (a *Analytics) Audit(ctx context.Context, from, to time.Time, device, keyID string, limit int) ([]AuditItem, error) {
	q := `SELECT kind, device, channel, key_id, client, protocol, start_ms, end_ms, bytes, from_ms, to_ms, node
		FROM ` + a.db() + `.audit FINAL WHERE start_ms >= ? AND start_ms < ?`
	args := []any{uint64(max(ms(from), 0)), uint64(max(ms(to), 0))}
	if device != "" {
		q += ` AND device = ?`
		args = append(args, device)
	}
	if keyID != "" {
		q += ` AND key_id = ?`
		args = append(args, keyID)
	}
	q += ` ORDER BY start_ms, seq LIMIT ?`
	args = append(args, uint64(max(limit, 0)))
	rows, err := a.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditItem{}
	for rows.Next() {
		var (
			it                           AuditItem
			startMS, endMS, fromMS, toMS uint64
		)
		if err := rows.Scan(&it.Kind, &it.Device, &it.Channel, &it.KeyID, &it.Client, &it.Protocol, &startMS, &endMS, &it.Bytes, &fromMS, &toMS, &it.Node); err != nil {
			return nil, err
		}
		it.Start, it.End = time.UnixMilli(int64(startMS)).UTC(), time.UnixMilli(int64(endMS)).UTC()
		if it.Kind == "recording" {
			f, t := time.UnixMilli(int64(fromMS)).UTC(), time.UnixMilli(int64(toMS)).UTC()
			it.From, it.To = &f, &t
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// analytics is the query side on the service's connection.
func (s *Service) analytics() (*Analytics, error) {
	conn, err := s.Conn()
	if err != nil {
		return nil, err
	}
	return &Analytics{Conn: conn}, nil
}

// Uptime: see Analytics.Uptime.
func (s *Service) Uptime(ctx context.Context, from, to time.Time, device string) ([]UptimeItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Uptime(ctx, from, to, device)
}

// RecordingStats: see Analytics.Recordings.
func (s *Service) RecordingStats(ctx context.Context, from, to time.Time, groupBy string) ([]RecordingsItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Recordings(ctx, from, to, groupBy)
}

// EventCounts: see Analytics.Events.
func (s *Service) EventCounts(ctx context.Context, from, to time.Time, interval time.Duration) ([]EventsItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Events(ctx, from, to, interval)
}

// StreamStats: see Analytics.Streams.
func (s *Service) StreamStats(ctx context.Context, from, to time.Time) ([]StreamsItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Streams(ctx, from, to)
}

// ViewAudit: see Analytics.Audit.
func (s *Service) ViewAudit(ctx context.Context, from, to time.Time, device, keyID string, limit int) ([]AuditItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.Audit(ctx, from, to, device, keyID, limit)
}

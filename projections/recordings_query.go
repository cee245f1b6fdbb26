package projections

import (
	"context"
	"time"
)

// RecordingRow is one segment in the index.
type RecordingRow struct {
	Device     string
	Channel    int
	Start, End time.Time
	DurationMS int64
	Bytes      int64
}

// Recordings lists the segments of a device channel overlapping [from, to),
// oldest first, from argus.recordings (deleted ones left out).
func (s *Service) Recordings(ctx context.Context, device string, channel int, from, to time.Time, limit int) ([]RecordingRow, error) {
	conn, err := s.Conn()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT device, channel, start_ms, end_ms, duration_ms, bytes
		FROM `+Database+`.recordings FINAL
		WHERE device = ? AND channel = ? AND deleted = 0 AND end_ms > ? AND start_ms < ?
		ORDER BY start_ms LIMIT ?`, device, uint32(channel), uint64(from.UnixMilli()), uint64(to.UnixMilli()), uint64(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RecordingRow
	for rows.Next() {
		var (
			r                       RecordingRow
			ch                      uint32
			start, end, dur, nbytes uint64
		)
		if err := rows.Scan(&r.Device, &ch, &start, &end, &dur, &nbytes); err != nil {
			return nil, err
		}
		r.Channel, r.Start, r.End = int(ch), time.UnixMilli(int64(start)).UTC(), time.UnixMilli(int64(end)).UTC()
		r.DurationMS, r.Bytes = int64(dur), int64(nbytes)
		out = append(out, r)
	}
	return out, rows.Err()
}

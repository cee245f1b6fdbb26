package projections

import (
	"context"
	"maps"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Device statuses as argus.device_status stores them.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// StatusSink keeps argus.device_status: one row per status interval of a
// device (device, start_ms) with end_ms = 0 while it is open. A transition
// (device.online / device.offline with another status than the open one)
// writes the open interval again with its end set — same key, higher seq, so
// ReplacingMergeTree keeps the closed row — and opens the next one.
// device.removed closes the open interval. Redelivered events (seq at or
// below the device's last applied transition) change nothing.
type StatusSink struct {
	Conn  driver.Conn
	Table string // default argus.device_status

	cache map[string]statusState // per device, as written to ClickHouse
}

// statusState is a device's open interval (Status "" = none) and the seq of
// the last event folded into its rows.
type statusState struct {
	Status  string
	StartMS uint64
	LastSeq uint64
}

type statusRow struct {
	device, status string
	startMS, endMS uint64
	seq            uint64
}

func (s *StatusSink) Name() string { return "device_status" }

func (s *StatusSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".device_status"
}

// statusOf is the status an event sets ("" = none, interval closed) and
// whether the event concerns device status at all.
func statusOf(e events.Event) (string, bool) {
	if e.Envelope.AggregateKind != events.KindDevice {
		return "", false
	}
	switch e.Envelope.Payload.(type) {
	case *pb.Envelope_DeviceOnline:
		return StatusOnline, true
	case *pb.Envelope_DeviceOffline:
		return StatusOffline, true
	case *pb.Envelope_DeviceRemoved:
		return "", true
	}
	return "", false
}

func (s *StatusSink) Write(ctx context.Context, batch []events.Event) error {
	if s.cache == nil {
		s.cache = map[string]statusState{}
	}
	var (
		missing  []string
		relevant bool
	)
	for _, e := range batch {
		if _, ok := statusOf(e); !ok {
			continue
		}
		relevant = true
		id := e.Envelope.AggregateId
		if _, ok := s.cache[id]; !ok && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if !relevant {
		return nil
	}
	if err := s.load(ctx, missing); err != nil {
		return err
	}
	// Fold into copies: the cache changes only once the insert succeeded.
	next := map[string]statusState{}
	var rows []statusRow
	for _, e := range batch {
		status, ok := statusOf(e)
		if !ok {
			continue
		}
		id := e.Envelope.AggregateId
		st, seen := next[id]
		if !seen {
			st = s.cache[id]
		}
		if e.Seq <= st.LastSeq { // redelivered: already in the rows
			continue
		}
		st.LastSeq = e.Seq
		next[id] = st
		if status == st.Status {
			continue // no transition
		}
		at := uint64(max(e.Envelope.TimeUnixMs, 0))
		if st.Status != "" {
			at = max(at, st.StartMS) // never end before the start (clock skew between nodes)
			rows = append(rows, statusRow{id, st.Status, st.StartMS, at, e.Seq})
		}
		if status != "" {
			rows = append(rows, statusRow{id, status, at, 0, e.Seq})
		}
		st.Status, st.StartMS = status, at
		next[id] = st
	}
	if len(rows) > 0 {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+" (device, status, start_ms, end_ms, seq)")
		if err != nil {
			return err
		}
		defer b.Abort()
		for _, r := range rows {
			if err := b.Append(r.device, r.status, r.startMS, r.endMS, r.seq); err != nil {
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

// load fills the cache from ClickHouse for devices it lacks: the latest
// interval of each (open when its end_ms is 0) and the highest seq written.
func (s *StatusSink) load(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		rows, err := s.Conn.Query(ctx, "SELECT device, argMax(status, start_ms), max(start_ms), argMax(end_ms, start_ms), max(seq) FROM "+
			s.table()+" FINAL WHERE device IN ? GROUP BY device", inSet(chunk))
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id, status          string
				start, end, lastSeq uint64
			)
			if err := rows.Scan(&id, &status, &start, &end, &lastSeq); err != nil {
				rows.Close()
				return err
			}
			st := statusState{LastSeq: lastSeq}
			if end == 0 {
				st.Status, st.StartMS = status, start
			}
			s.cache[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range chunk {
			if _, ok := s.cache[id]; !ok {
				s.cache[id] = statusState{}
			}
		}
	}
	return nil
}

package projections

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/events"
)

// DevicesSink keeps argus.devices at one row per device: the device's state
// after its latest event. It folds events with the aggregate's own Apply, on
// top of the row already in ClickHouse, so the projection and the actors can
// never disagree about what an event means.
type DevicesSink struct {
	Conn  driver.Conn
	Table string // default argus.devices

	cache map[string]*device.State // last state written per device
}

func (s *DevicesSink) Name() string { return "devices" }

func (s *DevicesSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".devices"
}

func (s *DevicesSink) Write(ctx context.Context, batch []events.Event) error {
	if s.cache == nil {
		s.cache = map[string]*device.State{}
	}
	// States as ClickHouse has them for devices this process has not seen.
	var missing []string
	for _, e := range batch {
		if e.Envelope.AggregateKind != events.KindDevice {
			continue
		}
		if _, ok := s.cache[e.Envelope.AggregateId]; !ok && !slices.Contains(missing, e.Envelope.AggregateId) {
			missing = append(missing, e.Envelope.AggregateId)
		}
	}
	if err := s.load(ctx, missing); err != nil {
		return err
	}
	// Fold into copies: the cache changes only once the insert succeeded.
	next := map[string]*device.State{}
	for _, e := range batch {
		id := e.Envelope.AggregateId
		if e.Envelope.AggregateKind != events.KindDevice {
			continue
		}
		st := next[id]
		if st == nil {
			cp := *s.cache[id]
			cp.Labels = maps.Clone(cp.Labels)
			st = &cp
			next[id] = st
		}
		if e.Seq <= st.LastSeq { // redelivered: already in the row
			continue
		}
		st.Apply(e)
	}
	if len(next) == 0 {
		return nil
	}
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+
		" (id, name, url, username, channels, label_keys, label_values, status, version, removed, created_at, updated_at, seq)")
	if err != nil {
		return err
	}
	defer b.Abort()
	for id, st := range next {
		keys := slices.Sorted(maps.Keys(st.Labels))
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = st.Labels[k]
		}
		removed := uint8(0)
		if !st.Registered {
			removed = 1
		}
		status := st.Status
		if status == "" {
			status = device.StatusUnknown
		}
		if err := b.Append(id, st.Name, st.URL, st.Username, st.Channels, keys, vals, status, st.Version,
			removed, time.UnixMilli(st.CreatedAt).UTC(), time.UnixMilli(st.UpdatedAt).UTC(), st.LastSeq); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return err
	}
	maps.Copy(s.cache, next)
	return nil
}

// load fills the cache from ClickHouse for ids it lacks (empty state when
// the device has no row yet).
func (s *DevicesSink) load(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		rows, err := s.Conn.Query(ctx, "SELECT id, name, url, username, channels, label_keys, label_values, status, version, removed, toUInt64(created_at), toUInt64(updated_at), seq FROM "+
			s.table()+" FINAL WHERE id IN ?", inSet(chunk))
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				st               device.State
				keys, vals       []string
				removed          uint8
				created, updated uint64
			)
			if err := rows.Scan(&st.ID, &st.Name, &st.URL, &st.Username, &st.Channels, &keys, &vals, &st.Status,
				&st.Version, &removed, &created, &updated, &st.LastSeq); err != nil {
				rows.Close()
				return err
			}
			st.Labels = make(map[string]string, len(keys))
			for i, k := range keys {
				if i < len(vals) {
					st.Labels[k] = vals[i]
				}
			}
			st.Registered = removed == 0
			st.CreatedAt, st.UpdatedAt = int64(created)*1000, int64(updated)*1000
			s.cache[st.ID] = &st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range chunk {
			if _, ok := s.cache[id]; !ok {
				s.cache[id] = &device.State{ID: id}
			}
		}
	}
	return nil
}

// inSet binds ids as a tuple: a plain slice binds as an Array, which
// ClickHouse 18.16 rejects on the right of IN.
func inSet(ids []string) clickhouse.GroupSet {
	v := make([]any, len(ids))
	for i, id := range ids {
		v[i] = id
	}
	return clickhouse.GroupSet{Value: v}
}

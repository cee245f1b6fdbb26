package projections

import (
	"context"
	"maps"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// SessionsSink keeps argus.stream_sessions: one row per pull session of a
// device channel, keyed (device, channel, start_ms). stream.started opens a
// row (end_ms = 0); stream.stopped closes it with the event's peak readers,
// bytes and reason; stream.failed closes it too (the pull was lost; the next
// stream.started opens a new session). A started while a session is open
// closes the old one first (reason "restarted"). The close rewrites the row
// under the same key with a higher seq. Redelivered events change nothing.
type SessionsSink struct {
	Conn  driver.Conn
	Table string // default argus.stream_sessions

	cache map[string]sessionState // per stream aggregate id "<device>~<channel>"
}

// sessionState is a stream's open session (Open false = none) and the seq
// of the last event folded into its rows.
type sessionState struct {
	Open    bool
	Device  string
	Channel uint32
	Node    string
	StartMS uint64
	LastSeq uint64
}

type sessionRow struct {
	device         string
	channel        uint32
	node           string
	startMS, endMS uint64
	peak           uint32
	bytes          uint64
	reason         string
	seq            uint64
}

func (s *SessionsSink) Name() string { return "stream_sessions" }

func (s *SessionsSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".stream_sessions"
}

func isSessionEvent(e events.Event) bool {
	if e.Envelope.AggregateKind != events.KindStream {
		return false
	}
	switch e.Envelope.Payload.(type) {
	case *pb.Envelope_StreamStarted, *pb.Envelope_StreamStopped, *pb.Envelope_StreamFailed:
		return true
	}
	return false
}

func (s *SessionsSink) Write(ctx context.Context, batch []events.Event) error {
	if s.cache == nil {
		s.cache = map[string]sessionState{}
	}
	var (
		missing  []string
		relevant bool
	)
	for _, e := range batch {
		if !isSessionEvent(e) {
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
	next := map[string]sessionState{}
	var rows []sessionRow
	for _, e := range batch {
		if !isSessionEvent(e) {
			continue
		}
		id := e.Envelope.AggregateId
		st, seen := next[id]
		if !seen {
			st = s.cache[id]
		}
		if e.Seq <= st.LastSeq { // redelivered
			continue
		}
		st.LastSeq = e.Seq
		at := uint64(max(e.Envelope.TimeUnixMs, 0))
		closeAt := max(at, st.StartMS)
		switch p := e.Envelope.Payload.(type) {
		case *pb.Envelope_StreamStarted:
			if st.Open {
				rows = append(rows, sessionRow{st.Device, st.Channel, st.Node, st.StartMS, closeAt, 0, 0, "restarted", e.Seq})
			}
			r := p.StreamStarted
			dev, ch := r.Device, r.Channel
			if dev == "" {
				if d, c, ok := events.ParseChannelID(id); ok {
					dev, ch = d, uint32(c)
				}
			}
			node := r.Node
			if node == "" {
				node = e.Envelope.Node
			}
			st = sessionState{Open: true, Device: dev, Channel: ch, Node: node, StartMS: at, LastSeq: e.Seq}
			rows = append(rows, sessionRow{dev, ch, node, at, 0, 0, 0, "", e.Seq})
		case *pb.Envelope_StreamStopped:
			if st.Open {
				r := p.StreamStopped
				rows = append(rows, sessionRow{st.Device, st.Channel, st.Node, st.StartMS, closeAt, r.PeakReaders, r.Bytes, r.Reason, e.Seq})
				st.Open = false
			}
		case *pb.Envelope_StreamFailed:
			if st.Open {
				rows = append(rows, sessionRow{st.Device, st.Channel, st.Node, st.StartMS, closeAt, 0, 0, "failed: " + p.StreamFailed.Error, e.Seq})
				st.Open = false
			}
		}
		next[id] = st
	}
	if len(rows) > 0 {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+
			" (device, channel, node, start_ms, end_ms, peak_readers, bytes, reason, seq)")
		if err != nil {
			return err
		}
		defer b.Abort()
		for _, r := range rows {
			if err := b.Append(r.device, r.channel, r.node, r.startMS, r.endMS, r.peak, r.bytes, r.reason, r.seq); err != nil {
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

// load fills the cache from ClickHouse for streams it lacks: the latest
// session of each (open when end_ms is 0) and the highest seq written.
func (s *SessionsSink) load(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		// Sessions are keyed by device and channel: look the ids up by pair.
		var devs []string
		for _, id := range chunk {
			if d, _, ok := events.ParseChannelID(id); ok && !slices.Contains(devs, d) {
				devs = append(devs, d)
			}
		}
		if len(devs) > 0 {
			rows, err := s.Conn.Query(ctx, "SELECT device, channel, argMax(node, start_ms), max(start_ms), argMax(end_ms, start_ms), max(seq) FROM "+
				s.table()+" FINAL WHERE device IN ? GROUP BY device, channel", inSet(devs))
			if err != nil {
				return err
			}
			for rows.Next() {
				var (
					dev, node           string
					ch                  uint32
					start, end, lastSeq uint64
				)
				if err := rows.Scan(&dev, &ch, &node, &start, &end, &lastSeq); err != nil {
					rows.Close()
					return err
				}
				id := events.ChannelID(dev, int(ch))
				if !slices.Contains(chunk, id) {
					continue
				}
				st := sessionState{Device: dev, Channel: ch, LastSeq: lastSeq}
				if end == 0 {
					st.Open, st.Node, st.StartMS = true, node, start
				}
				s.cache[id] = st
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for _, id := range chunk {
			if _, ok := s.cache[id]; !ok {
				s.cache[id] = sessionState{}
			}
		}
	}
	return nil
}

package projections

import (
	"context"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// RecordingsSink keeps argus.recordings, the segment index: one row per
// segment (device, channel, start_ms, key); a deletion by retention replaces
// the row with deleted = 1.
type RecordingsSink struct {
	Conn  driver.Conn
	Table string // default argus.recordings
}

// segmentSeqBase lifts the segment index's sequences above the event log's.
const segmentSeqBase = 1 << 40

// readsSegments: the recordings projector reads ARGUS_SEGMENTS.
func (s *RecordingsSink) readsSegments() {}

func (s *RecordingsSink) Name() string { return "recordings" }

func (s *RecordingsSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".recordings"
}

func (s *RecordingsSink) Write(ctx context.Context, batch []events.Event) error {
	var rows int
	for _, e := range batch {
		switch p := e.Envelope.Payload.(type) {
		case *pb.Envelope_PlanSegmentRecorded, *pb.Envelope_PlanSegmentDeleted:
			rows++
		case *pb.Envelope_PlanSegmentsCompacted:
			rows += len(p.PlanSegmentsCompacted.Segments) + len(p.PlanSegmentsCompacted.Deleted)
		}
	}
	if rows == 0 {
		return nil
	}
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+
		" (device, channel, start, `end`, start_ms, end_ms, duration_ms, bytes, key, recovered, deleted, seq)")
	if err != nil {
		return err
	}
	defer b.Abort()
	recorded := func(r *pb.PlanSegmentRecorded, seq uint64) error {
		rec := uint8(0)
		if r.Recovered {
			rec = 1
		}
		return b.Append(r.Device, r.Channel, time.UnixMilli(r.StartUnixMs).UTC(), time.UnixMilli(r.EndUnixMs).UTC(), uint64(r.StartUnixMs), uint64(r.EndUnixMs),
			uint64(r.DurationMs), uint64(r.Bytes), r.Key, rec, uint8(0), seq)
	}
	deleted := func(d *pb.PlanSegmentDeleted, seq uint64) error {
		return b.Append(d.Device, d.Channel, time.UnixMilli(d.StartUnixMs).UTC(), time.UnixMilli(d.StartUnixMs).UTC(), uint64(d.StartUnixMs), uint64(0),
			uint64(0), uint64(0), d.Key, uint8(0), uint8(1), seq)
	}
	for _, e := range batch {
		seq := e.Seq
		if strings.HasPrefix(e.Subject, events.SegmentPrefix+".") {
			// Rows of the segment index outrank those an older data
			// directory projected from the event log (its sequences are
			// another stream's).
			seq += segmentSeqBase
		}
		switch p := e.Envelope.Payload.(type) {
		case *pb.Envelope_PlanSegmentRecorded:
			err = recorded(p.PlanSegmentRecorded, seq)
		case *pb.Envelope_PlanSegmentDeleted:
			err = deleted(p.PlanSegmentDeleted, seq)
		case *pb.Envelope_PlanSegmentsCompacted:
			// The hour again, as one fact: its rows are those its facts
			// made (a projector that had not read them yet, or a rebuild,
			// gets them only here).
			for _, r := range p.PlanSegmentsCompacted.Segments {
				if err == nil {
					err = recorded(r, seq)
				}
			}
			for _, d := range p.PlanSegmentsCompacted.Deleted {
				if err == nil {
					err = deleted(d, seq)
				}
			}
		default:
			continue
		}
		if err != nil {
			return err
		}
	}
	return b.Send()
}

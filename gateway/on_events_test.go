package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

func TestParseEventQuery(t *testing.T) {
	ok := []struct {
		q    string
		lei  string
		want eventQuery
	}{
		{"", "", eventQuery{Limit: 100}},
		{"after_seq=7&limit=1000", "", eventQuery{AfterSeq: 7, Limit: 1000}},
		{"after_seq=7", "9", eventQuery{AfterSeq: 9, Limit: 100}},
		{"type=device.registered", "", eventQuery{Type: "device.registered", Kind: "device", Limit: 100}},
		{"kind=stream&aggregate=cam-1~2", "", eventQuery{Kind: "stream", Aggregate: "cam-1~2", Limit: 100}},
		{"type=device.updated&aggregate=cam-1", "", eventQuery{Type: "device.updated", Kind: "device", Aggregate: "cam-1", Limit: 100}},
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00.5%2B01:00", "", eventQuery{
			From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 23, 0, 0, 5e8, time.UTC), Limit: 100}},
	}
	for _, c := range ok {
		q, _ := url.ParseQuery(c.q)
		got, p := parseEventQuery(q, true, c.lei)
		if p != nil {
			t.Errorf("%q: %v", c.q, p)
			continue
		}
		if !got.From.Equal(c.want.From) || !got.To.Equal(c.want.To) {
			t.Errorf("%q: times %v %v", c.q, got.From, got.To)
		}
		got.From, got.To, c.want.From, c.want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		c.want.Last = -1
		if got != c.want {
			t.Errorf("%q: %+v, want %+v", c.q, got, c.want)
		}
	}

	bad := []struct{ q, lei, field string }{
		{"limit=0", "", "limit"},
		{"limit=1001", "", "limit"},
		{"limit=x", "", "limit"},
		{"limit=1&limit=2", "", "limit"},
		{"after_seq=-1", "", "after_seq"},
		{"after_seq=x", "", "after_seq"},
		{"", "abc", "Last-Event-ID"},
		{"kind=camera", "", "kind"},
		{"type=nope", "", "type"},
		{"type=device.nope", "", "type"},
		{"type=device.registered&kind=stream", "", "type"},
		{"aggregate=cam-1", "", "kind"},
		{"kind=device&aggregate=Cam_1", "", "aggregate"},
		{"kind=device&aggregate=a.b", "", "aggregate"},
		{"kind=stream&aggregate=cam-1", "", "aggregate"},
		{"kind=plan&aggregate=cam-1~0", "", "aggregate"},
		{"from=yesterday", "", "from"},
		{"kind=shard&aggregate=x", "", "aggregate"},
		{"to=2026-01-01", "", "to"},
		{"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "", "to"},
	}
	for _, c := range bad {
		q, _ := url.ParseQuery(c.q)
		_, p := parseEventQuery(q, true, c.lei)
		if p == nil || p.Status != 400 || p.Field != c.field {
			t.Errorf("%q / %q: %v, want 400 naming %s", c.q, c.lei, p, c.field)
		}
	}

	// The stream's ?last=: where to start, unless a reconnect says.
	for _, c := range []struct {
		q, lei, field string
		last          int
		afterSeq      uint64
	}{
		{"last=5", "", "", 5, 0},
		{"last=0", "", "", 0, 0},
		{"last=5", "9", "", -1, 9},
		{"last=5&after_seq=1", "", "last", 0, 0},
		{"last=-1", "", "last", 0, 0},
		{"last=10001", "", "last", 0, 0},
		{"last=1&last=2", "", "last", 0, 0},
	} {
		q, _ := url.ParseQuery(c.q)
		eq, p := parseEventQuery(q, false, c.lei)
		if c.field != "" {
			if p == nil || p.Field != c.field {
				t.Errorf("stream %q: %v, want 400 naming %s", c.q, p, c.field)
			}
			continue
		}
		if p != nil || eq.Last != c.last || eq.AfterSeq != c.afterSeq {
			t.Errorf("stream %q / %q: %+v %v", c.q, c.lei, eq, p)
		}
	}

	// The stream takes no limit: it is ignored rather than checked.
	q, _ := url.ParseQuery("limit=0")
	if eq, p := parseEventQuery(q, false, ""); p != nil || eq.Limit != 0 {
		t.Errorf("stream limit: %+v %v", eq, p)
	}
}

// memLog is an in-memory EventLog with subjects argus.evt.0.<kind>.<id>.
type memLog struct{ evs []events.Event }

func (m *memLog) Subject(kind, id string) string {
	if id == "" {
		id = "*"
	}
	return events.SubjectPrefix + ".0." + kind + "." + id
}

func subjectMatch(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

func (m *memLog) Read(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) bool) error {
	for _, e := range m.evs {
		if e.Seq <= afterSeq {
			continue
		}
		match := len(filters) == 0
		for _, f := range filters {
			match = match || subjectMatch(f, e.Subject)
		}
		if match && !fn(e) {
			return nil
		}
	}
	return nil
}

func (m *memLog) Follow(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) error) error {
	return nil
}

func (m *memLog) LastSeq(context.Context) (uint64, error) {
	if len(m.evs) == 0 {
		return 0, nil
	}
	return m.evs[len(m.evs)-1].Seq, nil
}

func testEvent(seq uint64, kind, id string, ms int64, env *pb.Envelope) events.Event {
	env.AggregateKind, env.AggregateId, env.TimeUnixMs, env.Version, env.Node = kind, id, ms, seq, "n1"
	env.Type = events.TypeOf(env)
	return events.Event{Seq: seq, Subject: (events.Ref{Kind: kind, ID: id}).Subject(), Envelope: env}
}

func TestReadPage(t *testing.T) {
	reg := func() *pb.Envelope {
		return &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{Name: "x", SealedPassword: []byte("secret")}}}
	}
	upd := func() *pb.Envelope {
		return &pb.Envelope{Payload: &pb.Envelope_DeviceUpdated{DeviceUpdated: &pb.DeviceUpdated{}}}
	}
	log := &memLog{evs: []events.Event{
		testEvent(1, "device", "a", 1000, reg()),
		testEvent(2, "device", "b", 2000, reg()),
		testEvent(3, "device", "a", 3000, upd()),
		testEvent(5, "device", "b", 4000, upd()),
		testEvent(6, "device", "c", 5000, reg()),
	}}
	seqs := func(items []eventItem) (out []uint64) {
		for _, it := range items {
			out = append(out, it.Seq)
		}
		return out
	}
	cases := []struct {
		name     string
		eq       eventQuery
		want     []uint64
		wantNext uint64
	}{
		{"first page", eventQuery{Limit: 2}, []uint64{1, 2}, 2},
		{"next page", eventQuery{AfterSeq: 2, Limit: 2}, []uint64{3, 5}, 5},
		{"last page", eventQuery{AfterSeq: 5, Limit: 2}, []uint64{6}, 6},
		{"past the end", eventQuery{AfterSeq: 6, Limit: 2}, nil, 6},
		{"type", eventQuery{Type: "device.updated", Kind: "device", Limit: 10}, []uint64{3, 5}, 5},
		{"aggregate", eventQuery{Kind: "device", Aggregate: "b", Limit: 10}, []uint64{2, 5}, 5},
		{"time", eventQuery{From: time.UnixMilli(2000), To: time.UnixMilli(5000), Limit: 10}, []uint64{2, 3, 5}, 5},
		{"nothing matches", eventQuery{AfterSeq: 1, Kind: "stream", Limit: 10}, nil, 1},
	}
	for _, c := range cases {
		items, next, err := readPage(context.Background(), log, c.eq)
		if err != nil {
			t.Fatal(err)
		}
		if got := seqs(items); !equalSeqs(got, c.want) || next != c.wantNext {
			t.Errorf("%s: %v next %d, want %v next %d", c.name, got, next, c.want, c.wantNext)
		}
	}

	items, _, _ := readPage(context.Background(), log, eventQuery{Limit: 1})
	b, _ := json.Marshal(items[0])
	const want = `{"seq":1,"id":"","time":"1970-01-01T00:00:01.000Z","type":"device.registered","kind":"device","aggregate":"a","version":1,"node":"n1","data":{"name":"x"}}`
	if string(b) != want {
		t.Errorf("item JSON\n got %s\nwant %s", b, want)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSSEFrame(t *testing.T) {
	b, err := sseFrame(eventItem{Seq: 42, Type: "device.updated", Data: json.RawMessage(`{"name":"a\nb"}`)})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "id: 42\nevent: device.updated\ndata: {\"seq\":42,") || !strings.HasSuffix(s, "}\n\n") || strings.Count(s, "\n") != 4 {
		t.Errorf("frame %q", s)
	}
}

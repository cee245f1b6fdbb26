package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// historyItem is an item of GET /v1/devices/{id}/events (the /v1/events shape).
type historyItem struct {
	Seq       uint64          `json:"seq"`
	Time      string          `json:"time"`
	Type      string          `json:"type"`
	Kind      string          `json:"kind"`
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Node      string          `json:"node"`
	Data      json.RawMessage `json:"data"`
}

type historyPage struct {
	Items []historyItem `json:"items"`
	Next  *uint64       `json:"next_after_seq"`
}

// TestDeviceHistoryPages writes a long history for one device (its own
// events, two channels' stream and plan events, interleaved with another
// device's) on a real embedded NATS and real shard host, then pages
// through GET /v1/devices/{id}/events.
func TestDeviceHistoryPages(t *testing.T) {
	ctx := context.Background()
	host, store, _ := startTestHost(t, 8)
	quiet := quietLog
	h := New(Config{Devices: host, AdminKey: testAdminKey, Node: "n1", Log: quiet}).Handler()

	register := func(id string) {
		t.Helper()
		r, err := host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: id, Url: "rtsp://10.0.0.1/s", Username: "admin", Password: "hunter2"})
		if err != nil || r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			t.Fatalf("register %s: %v %v", id, r, err)
		}
	}
	rename := func(id string, i int) {
		t.Helper()
		name := fmt.Sprintf("%s %d", id, i)
		r, err := host.Ask(ctx, id, &pb.UpdateDevice{Id: id, Name: &name})
		if err != nil || r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			t.Fatalf("update %s: %v %v", id, r, err)
		}
	}
	// Channel aggregates are appended straight to the log, as their actors do.
	last := map[string]uint64{}
	version := map[string]uint64{}
	appendTo := func(kind, id string, env *pb.Envelope) {
		t.Helper()
		dev, _, _ := events.ParseChannelID(id)
		ref := events.Ref{Shard: events.ShardOf(dev, 8), Kind: kind, ID: id}
		version[id]++
		events.Stamp(env, ref, version[id], "n1", nil)
		seq, err := store.Append(ctx, ref, env, last[id])
		if err != nil {
			t.Fatalf("append %s %s: %v", kind, id, err)
		}
		last[id] = seq
	}
	started := func(dev string, ch int) *pb.Envelope {
		return &pb.Envelope{Payload: &pb.Envelope_StreamStarted{StreamStarted: &pb.StreamStarted{Device: dev, Channel: uint32(ch), Node: "n1", Transport: "tcp", Trigger: "reader"}}}
	}
	segment := func(dev string, ch, i int) *pb.Envelope {
		return &pb.Envelope{Payload: &pb.Envelope_PlanSegmentRecorded{PlanSegmentRecorded: &pb.PlanSegmentRecorded{
			Device: dev, Channel: uint32(ch), Key: fmt.Sprintf("%s/%d.mp4", events.ChannelID(dev, ch), i), StartUnixMs: int64(i) * 1000, EndUnixMs: int64(i+1) * 1000, DurationMs: 1000, Bytes: 1}}}
	}

	register("pg")
	register("pg-x") // another device, interleaved with pg's history
	for i := range 90 {
		rename("pg", i)
		appendTo(events.KindStream, events.ChannelID("pg", 1), started("pg", 1))
		appendTo(events.KindPlan, events.ChannelID("pg", 2), segment("pg", 2, i))
		appendTo(events.KindStream, events.ChannelID("pg-x", 1), started("pg-x", 1))
		if i%10 == 0 {
			rename("pg-x", i)
		}
	}
	appendTo(events.KindStream, events.ChannelID("pg", events.MaxChannels), started("pg", events.MaxChannels))

	// The oracle: every event of the log whose aggregate is pg or one of its channels.
	var want []uint64
	if err := host.Read(ctx, nil, 0, func(e events.Event) bool {
		if a := e.Envelope.GetAggregateId(); a == "pg" || strings.HasPrefix(a, "pg~") {
			want = append(want, e.Seq)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) <= 250 {
		t.Fatalf("only %d events written for pg", len(want))
	}

	get := func(path string) historyPage {
		t.Helper()
		r := do(t, h, "GET", path, testAdminKey, "")
		if r.code != 200 {
			t.Fatalf("GET %s: %d %s", path, r.code, r.body)
		}
		if s := string(r.body); strings.Contains(s, "hunter2") || strings.Contains(s, "password") {
			t.Fatalf("GET %s leaks the password: %s", path, s)
		}
		var p historyPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, r.body)
		}
		if p.Items == nil || p.Next == nil {
			t.Fatalf("GET %s: page without items or next_after_seq: %s", path, r.body)
		}
		return p
	}

	// Page through with limit=100 until a page comes back empty.
	var got []uint64
	var after uint64
	var sizes []int
	kinds := map[string]int{}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("paging does not end: pages %v", sizes)
		}
		p := get(fmt.Sprintf("/v1/devices/pg/events?limit=100&after_seq=%d", after))
		sizes = append(sizes, len(p.Items))
		if len(p.Items) == 0 {
			if *p.Next != after {
				t.Fatalf("empty page moved next_after_seq from %d to %d", after, *p.Next)
			}
			break
		}
		if len(p.Items) > 100 {
			t.Fatalf("page of %d items with limit=100", len(p.Items))
		}
		for _, it := range p.Items {
			if it.Seq <= after {
				t.Fatalf("seq %d after %d: out of order or repeated", it.Seq, after)
			}
			if it.Time == "" || it.Type == "" || it.Kind == "" || it.Version == 0 || it.Node != "n1" || len(it.Data) == 0 {
				t.Fatalf("incomplete item %+v", it)
			}
			if it.Aggregate != "pg" && !strings.HasPrefix(it.Aggregate, "pg~") {
				t.Fatalf("item of another aggregate: %+v", it)
			}
			kinds[it.Kind]++
			got = append(got, it.Seq)
			after = it.Seq
		}
		if *p.Next != p.Items[len(p.Items)-1].Seq {
			t.Fatalf("next_after_seq %d, last item seq %d", *p.Next, after)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged history (%d events) differs from the log (%d events):\n got %v\nwant %v", len(got), len(want), got, want)
	}
	wantSizes := []int{100, 100, len(want) - 200, 0}
	if fmt.Sprint(sizes) != fmt.Sprint(wantSizes) {
		t.Errorf("page sizes %v, want %v", sizes, wantSizes)
	}
	if kinds["device"] != 91 || kinds["stream"] != 91 || kinds["plan"] != 90 {
		t.Errorf("kinds %v", kinds)
	}

	// Without parameters: the first 100; one big page is the whole history.
	if p := get("/v1/devices/pg/events"); len(p.Items) != 100 || p.Items[0].Seq != want[0] || p.Items[0].Type != "device.registered" || *p.Next != want[99] {
		t.Errorf("default page: %d items, next %d", len(p.Items), *p.Next)
	}
	if p := get("/v1/devices/pg/events?limit=1000"); len(p.Items) != len(want) || *p.Next != want[len(want)-1] {
		t.Errorf("limit=1000: %d items, next %d", len(p.Items), *p.Next)
	}
	// Past the end of a known device: an empty page, not a 404.
	if p := get(fmt.Sprintf("/v1/devices/pg/events?after_seq=%d", want[len(want)-1]+1000)); len(p.Items) != 0 || *p.Next != want[len(want)-1]+1000 {
		t.Errorf("past the end: %+v", p)
	}

	// Unknown devices are 404, whatever the page.
	for _, path := range []string{"/v1/devices/nope/events", "/v1/devices/nope/events?after_seq=5&limit=10", "/v1/devices/pg~1/events"} {
		r := do(t, h, "GET", path, testAdminKey, "")
		want := 404
		if strings.Contains(path, "~") {
			want = 400 // not a device id
		}
		if r.code != want {
			t.Errorf("GET %s: %d %s, want %d", path, r.code, r.body, want)
			continue
		}
		r.problem(t)
	}

	// Bad parameters: 400 naming the parameter, before the log is read.
	for _, c := range []struct{ q, field string }{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=x", "limit"},
		{"limit=1&limit=2", "limit"},
		{"after_seq=abc", "after_seq"},
		{"after_seq=-1", "after_seq"},
	} {
		for _, id := range []string{"pg", "nope"} {
			path := "/v1/devices/" + id + "/events?" + c.q
			r := do(t, h, "GET", path, testAdminKey, "")
			if r.code != 400 {
				t.Errorf("GET %s: %d %s, want 400", path, r.code, r.body)
				continue
			}
			if m := r.problem(t); m["field"] != c.field {
				t.Errorf("GET %s: field %v, want %s", path, m["field"], c.field)
			}
		}
	}
}

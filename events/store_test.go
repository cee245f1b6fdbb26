package events_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
)

func openStore(t *testing.T) *events.Store {
	t.Helper()
	srv := testenv.NewNATS(t)
	s, err := events.Open(context.Background(), testenv.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func registered(id string, version uint64) *pb.Envelope {
	return &pb.Envelope{
		EventId: fmt.Sprintf("%s-%d", id, version), Type: "device.registered", AggregateKind: events.KindDevice,
		AggregateId: id, Version: version,
		Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{Name: "n", Url: "rtsp://h/s", SealedPassword: []byte("sealed")}},
	}
}

func TestAppendExpectedSequence(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	ref := events.Ref{Shard: 3, Kind: events.KindDevice, ID: "cam1"}
	seq1, err := s.Append(ctx, ref, registered("cam1", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The same event again (a retry after a lost ack): on one server the
	// sequence check fails before the dedupe; the store finds its own event.
	if again, err := s.Append(ctx, ref, registered("cam1", 1), 0); err != nil || again != seq1 {
		t.Fatalf("retried append: seq %d, %v; want %d, nil", again, err, seq1)
	}
	e2 := registered("cam1", 2)
	e2.EventId = "other"
	if _, err := s.Append(ctx, ref, e2, 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("stale expected sequence: %v, want ErrConflict", err)
	}
	seq2, err := s.Append(ctx, ref, e2, seq1)
	if err != nil || seq2 <= seq1 {
		t.Fatalf("append at the right sequence: %d %v", seq2, err)
	}
	// Another aggregate's appends do not move cam1's expected sequence.
	if _, err := s.Append(ctx, events.Ref{Shard: 3, Kind: events.KindDevice, ID: "cam2"}, registered("cam2", 1), 0); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Load(ctx, ref, 0)
	if err != nil || len(evs) != 2 || evs[0].Seq != seq1 || evs[1].Seq != seq2 || evs[1].Envelope.EventId != "other" {
		t.Fatalf("load: %+v %v", evs, err)
	}
	if after, _ := s.Load(ctx, ref, seq1); len(after) != 1 {
		t.Fatalf("load after seq1: %d events", len(after))
	}
	if none, err := s.Load(ctx, events.Ref{Shard: 3, Kind: events.KindDevice, ID: "nobody"}, 0); err != nil || len(none) != 0 {
		t.Fatalf("load of an empty aggregate: %v %v", none, err)
	}
	ids, err := s.Aggregates(ctx, 3, events.KindDevice)
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"cam1", "cam2"}) {
		t.Fatalf("aggregates of shard 3: %v %v", ids, err)
	}
	if ids, _ := s.Aggregates(ctx, 4, events.KindDevice); len(ids) != 0 {
		t.Fatalf("aggregates of shard 4: %v", ids)
	}
}

func TestHostileIDsNeverReachASubject(t *testing.T) {
	s := openStore(t)
	for _, id := range []string{"a.b", "*", ">", "a b", "", "Cam", strings.Repeat("a", 64), "a\n"} {
		_, err := s.Append(context.Background(), events.Ref{Kind: events.KindDevice, ID: id}, registered("x", 1), 0)
		if !errors.Is(err, events.ErrInvalidID) {
			t.Errorf("id %q: %v", id, err)
		}
	}
	if !events.ValidID("cam-1_a") || !events.ValidID(strings.Repeat("a", 63)) {
		t.Error("valid ids rejected")
	}
}

func TestDataJSONRedactsSecrets(t *testing.T) {
	env := registered("cam1", 1)
	env.GetDeviceRegistered().Username = "admin"
	b := string(events.DataJSON(env))
	if strings.Contains(b, "sealed") || strings.Contains(b, "password") || !strings.Contains(b, `"username":"admin"`) {
		t.Fatalf("data json: %s", b)
	}
	upd := &pb.Envelope{Payload: &pb.Envelope_DeviceUpdated{DeviceUpdated: &pb.DeviceUpdated{
		Credentials: &pb.DeviceCredentialsChanged{Username: "u", SealedPassword: []byte("x")}}}}
	if b := string(events.DataJSON(upd)); strings.Contains(b, "password") || !strings.Contains(b, `"username":"u"`) {
		t.Fatalf("nested credentials: %s", b)
	}
	if got := events.TypeOf(upd); got != "device.updated" {
		t.Fatalf("type %q", got)
	}
	cc := &pb.Envelope{Payload: &pb.Envelope_DeviceCredentialsChanged{DeviceCredentialsChanged: &pb.DeviceCredentialsChanged{}}}
	if got := events.TypeOf(cc); got != "device.credentials_changed" {
		t.Fatalf("type %q", got)
	}
}

func TestShardOfIsStable(t *testing.T) {
	// The mapping is part of the log's layout: changing it would strand events.
	if got := events.ShardOf("cam1", 64); got != events.ShardOf("cam1", 64) || got < 0 || got >= 64 {
		t.Fatal(got)
	}
	seen := map[int]bool{}
	for i := 0; i < 1000; i++ {
		seen[events.ShardOf(fmt.Sprint("d", i), 64)] = true
	}
	if len(seen) < 60 {
		t.Fatalf("poor spread: %d of 64 shards used", len(seen))
	}
}

func TestValidIDMatchesTheRule(t *testing.T) {
	rule := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	for _, id := range []string{"a", "0", "a-b_c", "_a", "-a", "a.b", "A", "é", "a ", strings.Repeat("x", 63), strings.Repeat("x", 64), "", "a*", "a>", "a\x00"} {
		if events.ValidID(id) != rule.MatchString(id) {
			t.Errorf("ValidID(%q) = %v, rule says %v", id, events.ValidID(id), rule.MatchString(id))
		}
	}
}

func TestChannelIDs(t *testing.T) {
	if id := events.ChannelID("cam-1", 12); id != "cam-1~12" {
		t.Fatal(id)
	}
	if d, ch, ok := events.ParseChannelID("cam-1~12"); !ok || d != "cam-1" || ch != 12 {
		t.Fatal(d, ch, ok)
	}
	for _, bad := range []string{"cam", "cam~", "cam~0", "cam~65", "cam~01", "Cam~1", "cam~1~2", "~1", "cam~x", "a.b~1"} {
		if _, _, ok := events.ParseChannelID(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if events.ValidAggregateID(events.KindStream, "cam") || !events.ValidAggregateID(events.KindStream, "cam~1") || events.ValidAggregateID("other", "cam") {
		t.Fatal("kind rules")
	}
}

// The shard's ownership term fences every append of its aggregates: once
// another node records shard.acquired, no append of the older term lands,
// whatever the aggregate's own sequence.
func TestAppendInTermIsFencedByTheNextAcquire(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	acquire := func(node string, last uint64) uint64 {
		t.Helper()
		env := &pb.Envelope{EventId: "acq-" + node, Payload: &pb.Envelope_ShardAcquired{ShardAcquired: &pb.ShardAcquired{Node: node, Shard: 5}}}
		seq, err := s.Append(ctx, events.ShardRef(5), env, last)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	t1 := events.Term{Shard: 5, Seq: acquire("n1", 0)}
	ref := events.Ref{Shard: 5, Kind: events.KindDevice, ID: "cam1"}
	seq1, err := s.AppendInTerm(ctx, ref, registered("cam1", 1), 0, t1)
	if err != nil {
		t.Fatal(err)
	}
	// A retry of the same event inside the term is the same event.
	if again, err := s.AppendInTerm(ctx, ref, registered("cam1", 1), 0, t1); err != nil || again != seq1 {
		t.Fatalf("retry in term: %d %v", again, err)
	}
	t2 := events.Term{Shard: 5, Seq: acquire("n2", t1.Seq)}
	late := registered("cam1", 2)
	late.EventId = "late"
	if _, err := s.AppendInTerm(ctx, ref, late, seq1, t1); !errors.Is(err, events.ErrFenced) {
		t.Fatalf("append of the old term: %v, want ErrFenced", err)
	}
	// Another aggregate of the shard, never written: fenced just the same.
	if _, err := s.AppendInTerm(ctx, events.Ref{Shard: 5, Kind: events.KindDevice, ID: "cam9"}, registered("cam9", 1), 0, t1); !errors.Is(err, events.ErrFenced) {
		t.Fatalf("append of the old term to a new aggregate: %v, want ErrFenced", err)
	}
	// An append of the old term that did land before the new acquire and
	// whose ack was lost: its retry finds it and reports it stored.
	if again, err := s.AppendInTerm(ctx, ref, registered("cam1", 1), 0, t1); err != nil || again != seq1 {
		t.Fatalf("retry of a landed append after the term ended: %d %v", again, err)
	}
	if _, err := s.AppendInTerm(ctx, ref, late, seq1, t2); err != nil {
		t.Fatalf("append in the new term: %v", err)
	}
	evs, _ := s.Load(ctx, ref, 0)
	if len(evs) != 2 || evs[1].Envelope.EventId != "late" || evs[1].Seq < t2.Seq {
		t.Fatalf("cam1's events: %+v", evs)
	}
}

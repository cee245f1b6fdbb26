package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/embedded"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// rewriteToOldLayout turns a stopped node's log into the layout Argus had
// before the segment index: every segment fact back on its plan's subject
// in ARGUS_EVENTS, no ARGUS_SEGMENTS stream, no layout mark.
func rewriteToOldLayout(t *testing.T, data string) int {
	t.Helper()
	ns, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(data, "nats"), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	ctx := context.Background()
	store, err := events.Open(ctx, testenv.Connect(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	js := store.JetStream()
	segs, err := js.Stream(ctx, events.SegmentStreamName)
	if err != nil {
		t.Fatal(err)
	}
	var facts []events.Event
	cons, err := segs.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := segs.Info(ctx)
	for uint64(len(facts)) < info.State.Msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		env := &pb.Envelope{}
		if err := proto.Unmarshal(m.Data(), env); err != nil {
			t.Fatal(err)
		}
		facts = append(facts, events.Event{Subject: m.Subject(), Envelope: env})
	}
	for _, f := range facts {
		// argus.seg.<shard>.<plan>.<hour> → the plan's own subject.
		parts := strings.Split(f.Subject, ".")
		var shard int
		fmt.Sscan(parts[2], &shard)
		ref := events.Ref{Shard: shard, Kind: events.KindPlan, ID: parts[3]}
		last, _, err := store.Last(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		f.Envelope.EventId += "-old"
		if _, err := store.Append(ctx, ref, f.Envelope, last); err != nil {
			t.Fatal(err)
		}
	}
	if err := js.DeleteStream(ctx, events.SegmentStreamName); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, "argus_cluster")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "layout"); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatal(err)
	}
	return len(facts)
}

// A data directory written by the old layout starts, migrates its segment
// facts to the index and plays its old segments back.
func TestUpgradeMigratesTheSegmentIndex(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"up"}})
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--idle-timeout", "2s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"up-1","name":"r","url":%q}`, cam.URL("up"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, _, body := n.Do("PUT", "/v1/devices/up-1/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		t.Fatalf("put plan: %d %s", st, body)
	}
	from := time.Now().UTC()
	time.Sleep(25 * time.Second)
	n.Do("PUT", "/v1/devices/up-1/channels/1/plan", "", `{"mode":"off"}`)
	time.Sleep(time.Second)
	to := time.Now().UTC()
	q := "start=" + from.Format(time.RFC3339Nano) + "&end=" + to.Format(time.RFC3339Nano)
	st, _, before := n.Do("GET", "/v1/devices/up-1/channels/1/playback.mp4?"+q, "", "")
	if st != 200 || len(before) == 0 {
		t.Fatalf("playback before the upgrade: %d", st)
	}
	n.Stop()
	if facts := rewriteToOldLayout(t, n.Data); facts < 2 {
		t.Fatalf("%d segment facts in the old log", facts)
	}
	n.Restart()
	if !strings.Contains(n.Output(), "segment migration done") {
		t.Errorf("no migration logged:\n%s", n.Output())
	}
	st, _, after := n.Do("GET", "/v1/devices/up-1/channels/1/playback.mp4?"+q, "", "")
	if st != 200 || len(after) != len(before) {
		t.Fatalf("playback after the upgrade: %d, %d bytes (before: %d)", st, len(after), len(before))
	}
	// The event log keeps the plan's configuration, no segment fact.
	_, _, b := n.Do("GET", "/v1/events?kind=plan&limit=1000", "", "")
	if strings.Contains(string(b), "plan.segment_") {
		t.Errorf("segment facts left in the event log: %s", b)
	}
	if !strings.Contains(string(b), "plan.set") {
		t.Errorf("the plan's history is gone: %s", b)
	}
}

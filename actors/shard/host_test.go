package shard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

func startHost(t *testing.T, url string) (*Host, *device.Deps) {
	t.Helper()
	return startHostWith(t, url, false)
}

// startHostWith starts a single-node host, with shard snapshots or not.
func startHostWith(t *testing.T, url string, snapshots bool) (*Host, *device.Deps) {
	t.Helper()
	ctx := context.Background()
	store, err := events.Open(ctx, testenv.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := secret.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	deps := &device.Deps{Store: store, Sealer: sealer, Node: "n1", Directory: device.NewDirectory(), Log: slog.Default()}
	cfg := Config{Shards: 8}
	if snapshots {
		if cfg.Snapshots, err = store.OpenSnapshots(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	h, err := Start(ctx, engine, deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	return h, deps
}

func TestCommandEventState(t *testing.T) {
	srv := testenv.NewNATS(t)
	h, _ := startHost(t, srv.ClientURL())
	ctx := context.Background()

	r, err := h.Ask(ctx, "cam1", &pb.RegisterDevice{Id: "cam1", Name: "Gate", Url: "rtsp://10.0.0.1/s", Password: "hunter2", Labels: map[string]string{"site": "a"}})
	if err != nil || r.Code != pb.ReplyCode_REPLY_CODE_OK {
		t.Fatalf("register: %v %v", r, err)
	}
	if r.Device.Version != 1 || r.Device.Name != "Gate" || r.Device.Status != "unknown" {
		t.Fatalf("view %+v", r.Device)
	}
	r, _ = h.Ask(ctx, "cam1", &pb.RegisterDevice{Id: "cam1", Name: "Gate", Url: "rtsp://10.0.0.1/s"})
	if r.Code != pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS {
		t.Fatalf("second register: %v", r)
	}
	name := "Gate 2"
	r, _ = h.Ask(ctx, "cam1", &pb.UpdateDevice{Id: "cam1", Name: &name, Labels: &pb.LabelPatch{Set: map[string]string{"zone": "n"}, Remove: []string{"site"}}})
	if r.Code != 0 || r.Device.Version != 2 || r.Device.Labels["zone"] != "n" || len(r.Device.Labels) != 1 {
		t.Fatalf("update: %v", r)
	}
	hist, err := h.History(ctx, "cam1", 0, 100)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %d %v", len(hist), err)
	}
	for _, e := range hist {
		if s := string(events.DataJSON(e.Envelope)); len(s) == 0 || strings.Contains(s, "hunter2") || strings.Contains(s, "password") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	r, _ = h.Ask(ctx, "cam1", &pb.RemoveDevice{Id: "cam1"})
	if r.Code != 0 {
		t.Fatalf("remove: %v", r)
	}
	r, _ = h.Ask(ctx, "cam1", &pb.GetDevice{Id: "cam1"})
	if r.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("get after remove: %v", r)
	}

	// A second host on the same log activates the same state.
	h.Stop()
	h2, _ := startHost(t, srv.ClientURL())
	r, _ = h2.Ask(ctx, "cam1", &pb.RegisterDevice{Id: "cam1", Name: "Again", Url: "rtsp://10.0.0.1/s"})
	if r.Code != 0 || r.Device.Version != 4 {
		t.Fatalf("re-register after remove: %v", r)
	}
}

func TestConcurrentIfMatch(t *testing.T) {
	srv := testenv.NewNATS(t)
	h, _ := startHost(t, srv.ClientURL())
	ctx := context.Background()
	h.Ask(ctx, "cam2", &pb.RegisterDevice{Id: "cam2", Name: "x", Url: "rtsp://h/s"})
	v := uint64(1)
	var wg sync.WaitGroup
	codes := make([]pb.ReplyCode, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := fmt.Sprint("name", i)
			r, err := h.Ask(ctx, "cam2", &pb.UpdateDevice{Meta: &pb.CommandMeta{ExpectedVersion: &v}, Id: "cam2", Name: &n})
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = r.Code
		}()
	}
	wg.Wait()
	ok, pre := 0, 0
	for _, c := range codes {
		switch c {
		case pb.ReplyCode_REPLY_CODE_OK:
			ok++
		case pb.ReplyCode_REPLY_CODE_PRECONDITION_FAILED:
			pre++
		}
	}
	if ok != 1 || pre != 1 {
		t.Fatalf("codes %v", codes)
	}
}

// Two hosts on one log (a zombie and a new owner): the host that acquired
// the shards last owns them. The zombie still runs its actors, but none of
// its appends lands any more, whatever the aggregate's own sequence, and
// it stops the shard once it finds out.
func TestZombieAppendFails(t *testing.T) {
	srv := testenv.NewNATS(t)
	h1, _ := startHost(t, srv.ClientURL())
	ctx := context.Background()
	if r, _ := h1.Ask(ctx, "cam3", &pb.RegisterDevice{Id: "cam3", Name: "x", Url: "rtsp://h/s"}); r.Code != 0 {
		t.Fatal(r)
	}
	h2, _ := startHost(t, srv.ClientURL()) // acquires every shard after h1
	n := "from-h1"
	zctx, cancel := context.WithTimeout(ctx, time.Second)
	r, err := h1.Ask(zctx, "cam3", &pb.UpdateDevice{Id: "cam3", Name: &n})
	cancel()
	if err == nil && r.Code == pb.ReplyCode_REPLY_CODE_OK {
		t.Fatalf("the zombie's update was applied: %v", r)
	}
	shard := events.ShardOf("cam3", 8)
	deadline := time.Now().Add(2 * time.Second)
	for h1.Owns(shard) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h1.Owns(shard) {
		t.Fatal("the fenced host still runs the shard")
	}
	n = "from-h2"
	if r, _ := h2.Ask(ctx, "cam3", &pb.UpdateDevice{Id: "cam3", Name: &n}); r.Code != 0 || r.Device.Version != 2 {
		t.Fatalf("owner's update: %v", r)
	}
	evs, err := h2.deps.Store.Load(ctx, h2.Ref("cam3"), 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("cam3's events: %d %v", len(evs), err)
	}
	if u := evs[1].Envelope.GetDeviceUpdated(); u == nil || u.GetName() != "from-h2" {
		t.Fatalf("second event: %v", evs[1].Envelope)
	}
}

func TestHostileIDsNeverReachNATS(t *testing.T) {
	h, _ := startHost(t, testenv.NATS(t))
	for _, id := range []string{"a.b", "*", ">", "a b", "", "A", "-a", string(make([]byte, 64))} {
		if _, err := h.Ask(context.Background(), id, &pb.GetDevice{Id: id}); err != events.ErrInvalidID {
			t.Errorf("id %q: %v", id, err)
		}
	}
}

// A new host activates from the shard snapshots plus the events after
// them: with the history before the snapshots purged from the log, every
// device still has its state, and what changed after the snapshot too.
func TestActivationFromSnapshots(t *testing.T) {
	srv := testenv.NewNATS(t)
	ctx := context.Background()
	h1, deps := startHostWith(t, srv.ClientURL(), true)
	for i := range 40 {
		id := fmt.Sprintf("s%02d", i)
		if r, _ := h1.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "v1", Url: "rtsp://h/s"}); r.Code != 0 {
			t.Fatal(r)
		}
		n := "v2"
		if r, _ := h1.Ask(ctx, id, &pb.UpdateDevice{Id: id, Name: &n}); r.Code != 0 {
			t.Fatal(r)
		}
	}
	for n := range 8 {
		if err := h1.Snapshot(ctx, n); err != nil {
			t.Fatalf("snapshot of shard %d: %v", n, err)
		}
	}
	last, _ := deps.Store.LastSeq(ctx)
	// After the snapshots: one more change, and a new device.
	n3 := "v3"
	if r, _ := h1.Ask(ctx, "s07", &pb.UpdateDevice{Id: "s07", Name: &n3}); r.Code != 0 {
		t.Fatal(r)
	}
	if r, _ := h1.Ask(ctx, "late", &pb.RegisterDevice{Id: "late", Name: "new", Url: "rtsp://h/s"}); r.Code != 0 {
		t.Fatal(r)
	}
	h1.Stop()
	// The history the snapshots cover is gone from the log.
	if err := deps.Store.Stream().Purge(ctx, jetstream.WithPurgeSequence(last+1)); err != nil {
		t.Fatal(err)
	}
	h2, _ := startHostWith(t, srv.ClientURL(), true)
	for i := range 40 {
		id := fmt.Sprintf("s%02d", i)
		want, version := "v2", uint64(2)
		if id == "s07" {
			want, version = "v3", 3
		}
		r, _ := h2.Ask(ctx, id, &pb.GetDevice{Id: id})
		if r.Code != 0 || r.Device.Name != want || r.Device.Version != version {
			t.Fatalf("%s after activation from snapshots: %v", id, r)
		}
	}
	if r, _ := h2.Ask(ctx, "late", &pb.GetDevice{Id: "late"}); r.Code != 0 || r.Device.Name != "new" {
		t.Fatalf("device registered after the snapshot: %v", r)
	}
	// And it appends on top of them.
	n4 := "v4"
	if r, _ := h2.Ask(ctx, "s01", &pb.UpdateDevice{Id: "s01", Name: &n4}); r.Code != 0 || r.Device.Version != 3 {
		t.Fatalf("update after activation from snapshots: %v", r)
	}
}

// Shards with a snapshot and shards without one activate together: the
// ones without fold their whole history, the others their snapshot plus
// what came after it, whatever their order.
func TestActivationWithSomeSnapshots(t *testing.T) {
	srv := testenv.NewNATS(t)
	ctx := context.Background()
	h1, _ := startHostWith(t, srv.ClientURL(), true)
	for i := range 40 {
		id := fmt.Sprintf("m%02d", i)
		if r, _ := h1.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "v1", Url: "rtsp://h/s"}); r.Code != 0 {
			t.Fatal(r)
		}
	}
	for n := 4; n < 8; n++ { // the later shards only
		if err := h1.Snapshot(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	n2 := "v2"
	if r, _ := h1.Ask(ctx, "m03", &pb.UpdateDevice{Id: "m03", Name: &n2}); r.Code != 0 {
		t.Fatal(r)
	}
	h1.Stop()
	h2, _ := startHostWith(t, srv.ClientURL(), true)
	for i := range 40 {
		id := fmt.Sprintf("m%02d", i)
		r, _ := h2.Ask(ctx, id, &pb.GetDevice{Id: id})
		if want := map[bool]string{true: "v2", false: "v1"}[id == "m03"]; r.Code != 0 || r.Device.Name != want {
			t.Fatalf("%s (shard %d) after a mixed activation: %v", id, events.ShardOf(id, 8), r)
		}
	}
}

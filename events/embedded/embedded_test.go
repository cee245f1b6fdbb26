package embedded

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestOptionsValidation(t *testing.T) {
	if _, err := serverOptions(Options{ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:6222"}}); err == nil || !strings.Contains(err.Error(), "server name") {
		t.Fatalf("clustered without a name: %v", err)
	}
	if _, err := serverOptions(Options{Name: "a", ClusterListen: "127.0.0.1:0"}); err == nil {
		t.Fatal("clustered without routes accepted")
	}
	if _, err := serverOptions(Options{Name: "a", Routes: []string{"nats://x:1"}}); err == nil {
		t.Fatal("routes without a cluster listen accepted")
	}
	if _, err := serverOptions(Options{Name: "a", ClusterListen: ":6222", Routes: []string{"http://x:1"}, User: "u", Password: "p"}); err == nil {
		t.Fatal("http route accepted")
	}
	o, err := serverOptions(Options{Name: "a", ClusterListen: ":6222", Routes: []string{"nats://argus-0.argus.ns.svc:6222", "argus-1:6222"}, User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Routes) != 2 || o.Routes[1].String() != "nats://u:p@argus-1:6222" || o.Cluster.Name != ClusterName || o.Cluster.Port != 6222 ||
		o.Cluster.Username != "u" || o.Username != "u" {
		t.Fatalf("%+v %v", o.Cluster, o.Routes)
	}
}

// Beyond loopback, a server without credentials does not start.
func TestNoAuthOnlyOnLoopback(t *testing.T) {
	for _, o := range []Options{
		{Listen: "0.0.0.0:4222"},
		{Listen: ":4222"},
		{Listen: "127.0.0.1:4222", Name: "a", ClusterListen: "0.0.0.0:6222", Routes: []string{"nats://x:6222"}},
	} {
		if _, err := serverOptions(o); err == nil || !strings.Contains(err.Error(), "without authentication") {
			t.Errorf("%+v: %v, want a refusal", o, err)
		}
	}
	for _, l := range []string{"127.0.0.1:0", "localhost:4222", "[::1]:4222"} {
		if _, err := serverOptions(Options{Listen: l}); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	if _, err := serverOptions(Options{Listen: "0.0.0.0:4222", User: "u"}); err == nil {
		t.Error("a user without a password accepted")
	}
}

func TestSingleServer(t *testing.T) {
	s, err := Start(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if err := WaitJetStream(s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := ClusterSize(s); n != 1 {
		t.Fatalf("cluster size %d, want 1", n)
	}
}

// TestCluster runs three servers with full-mesh routes (each lists all
// three, itself included), then R3 streams and KV, with one server down.
func TestCluster(t *testing.T) {
	const n = 3
	var routes []string
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i]))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		s, err := Start(Options{
			StoreDir:      t.TempDir(),
			Listen:        "127.0.0.1:0",
			Name:          fmt.Sprintf("n%d", i+1),
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", clusterPorts[i]),
			Routes:        routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
		defer s.Shutdown()
	}
	for i, s := range servers {
		if err := WaitJetStream(s, 15*time.Second); err != nil {
			t.Fatalf("server %d: %v", i+1, err)
		}
		if !s.JetStreamIsClustered() {
			t.Fatalf("server %d not clustered", i+1)
		}
		// A meta leader elected by two servers learns of the third as it
		// joins: the size reaches n shortly after.
		deadline := time.Now().Add(10 * time.Second)
		for ClusterSize(s) != n && time.Now().Before(deadline) {
			time.Sleep(25 * time.Millisecond)
		}
		if got := ClusterSize(s); got != n {
			t.Fatalf("server %d: cluster size %d, want %d", i+1, got, n)
		}
	}

	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if r := st.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream replicas %d", r)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if msg, err := st.GetLastMsgForSubject(ctx, "t.a"); err != nil || string(msg.Data) != "one" {
		t.Fatalf("read back: %v", err)
	}

	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v1" {
		t.Fatalf("kv get: %v", err)
	}
	if st, err := kv.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("kv status: %v", err)
	}

	// One server down: R3 keeps a quorum of two, so writes go on (after a
	// possible leader election; the client reconnects to a survivor).
	servers[0].Shutdown()
	servers[0].WaitForShutdown()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "t.a", []byte("two"))
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream not writable with one server down: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if msg, err := st.GetLastMsgForSubject(ctx, "t.a"); err != nil || string(msg.Data) != "two" {
		t.Fatalf("read back after shutdown: %v", err)
	}
	if _, err := kv.Update(ctx, "k", []byte("v2"), e.Revision()); err != nil {
		t.Fatalf("kv update with one server down: %v", err)
	}
}

// The linknamed Raft timings must reach nats-server's variables: a rename
// upstream would otherwise silently bring back 4–9 s elections.
func TestRaftTimingLinked(t *testing.T) {
	old := raftTiming()
	if old.MinElection == 0 || old.Heartbeat == 0 {
		t.Fatalf("nats-server Raft timing not linked: %+v", old)
	}
	setRaftTiming(FastFailover)
	defer setRaftTiming(old)
	if raftTiming() != FastFailover {
		t.Fatalf("timing %+v, want %+v", raftTiming(), FastFailover)
	}
}

func TestParseSync(t *testing.T) {
	for in, want := range map[string]Sync{
		"always":   {Always: true},
		" Always ": {Always: true},
		"1s":       {Interval: time.Second},
		"2m":       {Interval: 2 * time.Minute},
		"250ms":    {Interval: 250 * time.Millisecond},
	} {
		got, err := ParseSync(in)
		if err != nil || got != want {
			t.Errorf("ParseSync(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := ParseSync(got.String()); err != nil || back != got {
			t.Errorf("ParseSync(%q.String() = %q) = %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "never", "alwayz", "true", "1", "0", "0s", "-1s", "1 s"} {
		if s, err := ParseSync(in); err == nil || !strings.Contains(err.Error(), "always") {
			t.Errorf("ParseSync(%q) = %+v, %v; want an error naming the choices", in, s, err)
		}
	}
	if _, err := Start(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Sync: Sync{Interval: -time.Second}}); err == nil {
		t.Error("negative sync interval accepted")
	}
}

// Each sync setting reaches the server: its JetStream config (and varz)
// show it, and a file-storage stream takes publishes under it.
func TestSyncReachesServer(t *testing.T) {
	for _, tc := range []struct {
		sync         Sync
		wantAlways   bool
		wantInterval time.Duration
	}{
		{Sync{}, false, DefaultSyncInterval},
		{Sync{Always: true}, true, DefaultSyncInterval},
		{Sync{Interval: time.Second}, false, time.Second},
	} {
		t.Run(tc.sync.String(), func(t *testing.T) {
			s, err := Start(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Sync: tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown()
			if err := WaitJetStream(s, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			cfg := s.JetStreamConfig()
			if cfg == nil || cfg.SyncAlways != tc.wantAlways || cfg.SyncInterval != tc.wantInterval {
				t.Fatalf("JetStream config %+v, want sync_always %v, sync_interval %s", cfg, tc.wantAlways, tc.wantInterval)
			}
			vz, err := s.Varz(nil)
			if err != nil || vz.JetStream.Config == nil || vz.JetStream.Config.SyncAlways != tc.wantAlways || vz.JetStream.Config.SyncInterval != tc.wantInterval {
				t.Fatalf("varz jetstream config %+v, %v", vz.JetStream.Config, err)
			}

			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if ack, err := js.Publish(ctx, "s.a", []byte("x")); err != nil || ack.Sequence != uint64(i+1) {
					t.Fatalf("publish %d: %+v, %v", i, ack, err)
				}
			}
		})
	}
}

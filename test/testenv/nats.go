// Package testenv starts the real servers tests need: one helper per server,
// shared by every test of a test binary. Nothing here is a mock.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/events/embedded"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	natsOnce sync.Once
	natsURL  string
	natsErr  error
)

// NATS returns the URL of an embedded NATS server with JetStream shared by
// every test in this binary. Tests isolate themselves by stream or bucket
// names, or use NewNATS.
func NATS(t testing.TB) string {
	t.Helper()
	natsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "argus-nats-")
		if err != nil {
			natsErr = err
			return
		}
		s, err := embedded.Start(embedded.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
		if err != nil {
			natsErr = err
			return
		}
		natsURL = s.ClientURL()
	})
	if natsErr != nil {
		t.Fatalf("start embedded nats: %v", natsErr)
	}
	return natsURL
}

// NewNATS starts a private embedded NATS server on its own store dir, shut
// down when the test ends.
func NewNATS(t testing.TB) *server.Server {
	t.Helper()
	s, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect opens a client connection closed when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect nats %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// NewNATSCluster starts n embedded NATS servers in this process that form
// one JetStream cluster (R3 with three), and waits until JetStream works.
func NewNATSCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		ports[i] = FreePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		s, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Name: fmt.Sprintf("s%d", i+1),
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes})
		if err != nil {
			t.Fatalf("start clustered nats: %v", err)
		}
		t.Cleanup(s.Shutdown)
		servers[i] = s
	}
	for _, s := range servers {
		if err := embedded.WaitJetStream(s, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

// ConsumerServers maps every consumer of stream to the server that runs
// it (its Raft leader); none when the stream does not exist yet.
func ConsumerServers(t testing.TB, js jetstream.JetStream, stream string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[string]string{}
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Cluster != nil {
			out[ci.Name] = ci.Cluster.Leader
		}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

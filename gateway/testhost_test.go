package gateway

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats-server/v2/server"
)

// quietLog discards what the code under test logs.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startTestHost runs a real shard host (single node, shards shards) on a
// new embedded NATS server, stopped when the test ends.
func startTestHost(t *testing.T, shards int) (*shard.Host, *events.Store, *server.Server) {
	t.Helper()
	srv := testenv.NewNATS(t)
	ctx := context.Background()
	store, err := events.Open(ctx, testenv.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	host, err := shard.Start(ctx, engine, &device.Deps{Store: store, Sealer: sealer, Node: "n1", Directory: device.NewDirectory(), Log: quietLog}, shard.Config{Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	return host, store, srv
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/natsauth"
	"github.com/argus-vms/argus/work/queue"
	"github.com/argus-vms/argus/work/worker"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// workerConfig is `argus worker`: task slots beside the nodes, on the
// cluster's NATS and recording storage.
type workerConfig struct {
	nats        *string
	creds       natsFlags
	secret      *string
	id          *string
	group       *string
	slots       *int
	onlineSlots *int
	logLevel    *string
	storage     storageFlags
}

func parseWorker(args []string) (*workerConfig, error) {
	f := newToolFlags("worker")
	data := f.String("data", "./data", "scratch directory of the jobs (<data>/tmp), and the default recordings directory (<data>/recordings)")
	c := &workerConfig{
		nats:        f.String("nats", "nats://127.0.0.1:4222", "the cluster's NATS URL(s), comma-separated (a node's embedded NATS, or the external one)"),
		creds:       addNATSFlags(f),
		secret:      f.String("secret", "", "cluster secret: the NATS user and password of an embedded NATS derive from it when --nats-user is not given"),
		id:          f.String("id", "", "worker id (default <host>-<random>)"),
		group:       f.String("group", "default", "worker group: tasks name the group they run on (e.g. cpu, io)"),
		slots:       f.Int("slots", 4, "tasks run at once"),
		onlineSlots: f.Int("online-slots", 0, "slots kept for online tasks such as snapshots (default one in eight, at least one)"),
		logLevel:    f.String("log-level", "info", "debug|info|warn|error"),
	}
	c.storage = addStorageFlags(f, data)
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	if f.NArg() > 0 {
		return nil, fmt.Errorf("worker: unexpected arguments %q", f.Args())
	}
	if !events.ValidID(*c.group) {
		return nil, fmt.Errorf("worker: --group %q %s", *c.group, events.IDRule)
	}
	if *c.slots < 1 || *c.slots > 1000 {
		return nil, errors.New("worker: --slots must be 1..1000")
	}
	if *c.onlineSlots < 0 || *c.onlineSlots > *c.slots {
		return nil, errors.New("worker: --online-slots must be 0..--slots")
	}
	return c, nil
}

// natsOptions are the worker's credentials: the given ones, else those an
// embedded NATS derives from the cluster secret.
func (c *workerConfig) natsOptions() ([]nats.Option, error) {
	auth := c.creds.given()
	if !auth.HasAuth() && *c.secret != "" {
		d := natsauth.Derived([]byte(*c.secret))
		auth.User, auth.Password = d.User, d.Password
	}
	return auth.ClientOptions()
}

func runWorker(args []string) error {
	c, err := parseWorker(args)
	if err != nil {
		return err
	}
	log, flushLog := newLogger(*c.logLevel)
	defer flushLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := c.natsOptions()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	nc, err := nats.Connect(*c.nats, append([]nats.Option{nats.Name("argus-worker"), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.IgnoreDiscoveredServers()}, opts...)...)
	if err != nil {
		return fmt.Errorf("worker: connect NATS %s: %w", *c.nats, err)
	}
	defer nc.Close()
	q, err := queue.Open(ctx, nc, queue.Options{})
	if err != nil {
		return fmt.Errorf("worker: %w (is a node of the cluster running?)", err)
	}
	index, err := events.LookupSegments(ctx, nc)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	shards, err := readShards(ctx, nc)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	st, err := openStorage(c.storage, log)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return worker.Run(ctx, worker.Options{Queues: q, ID: *c.id, Group: *c.group, Slots: *c.slots, OnlineSlots: *c.onlineSlots,
		Env: jobEnv(index, shards, st, scratchDir(*c.storage.data)), Log: log})
}

// readShards is the cluster's shard count, as its first node fixed it.
func readShards(ctx context.Context, nc *nats.Conn) (int, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	e, err := events.Retry(ctx, "shard count", func(ctx context.Context) (jetstream.KeyValueEntry, error) {
		kv, err := js.KeyValue(ctx, "argus_cluster")
		if err != nil {
			return nil, err
		}
		return kv.Get(ctx, "shards")
	})
	if err != nil {
		return 0, fmt.Errorf("shard count: %w", err)
	}
	return strconv.Atoi(string(e.Value()))
}

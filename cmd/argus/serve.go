package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/embedded"
)

// serveConfig is `argus serve`: a node plus where its NATS comes from.
type serveConfig struct {
	node *nodeConfig

	nats     *string // external NATS URL(s), comma-separated
	embedded *bool   // run an embedded NATS server (clustered with --nats-routes)
	listen   *string // embedded: client listen
	cluster  *string // embedded: cluster (route) listen
	routes   *string // embedded: nats://host:port,… of every cluster member
	store    *string // embedded: JetStream directory
	sync     *string // embedded: --nats-sync as given ("" = auto)
	replicas *int    // 0 = auto

	syncMode embedded.Sync // embedded: the fsync setting in force
}

// parseServe reads and checks serve's flags (and their ARGUS_* twins).
func parseServe(args []string) (*serveConfig, error) {
	f := newFlags("serve")
	c := &serveConfig{node: addNodeFlags(f)}
	c.nats = f.String("nats", "", "external NATS URL(s), comma-separated (exclusive with --embedded-nats)")
	c.embedded = f.Bool("embedded-nats", false, "run an embedded NATS server with JetStream in this process (exclusive with --nats)")
	c.listen = f.String("nats-listen", "0.0.0.0:4222", "embedded NATS client listen address")
	c.cluster = f.String("nats-cluster-listen", "", "embedded NATS cluster listen address, host:port (default 0.0.0.0:6222 when --nats-routes is set)")
	c.routes = f.String("nats-routes", "", "embedded NATS cluster routes, nats://host:port,… of every member, this node included")
	c.store = f.String("nats-store", "", "embedded NATS JetStream directory (default <data>/nats)")
	c.sync = f.String("nats-sync", "", natsSyncHelp+"default: always on a single server, 2m (JetStream's) with --nats-routes, where a quorum of replicas holds every acknowledged event")
	c.replicas = f.Int("replicas", 0, "JetStream replicas of streams and buckets; 0 = auto (3 on a NATS cluster of 3 or more, else the cluster size; 1 on a single server)")
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	if f.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected arguments %q", f.Args())
	}
	hasURL := strings.TrimSpace(*c.nats) != ""
	switch {
	case hasURL && *c.embedded:
		return nil, errors.New("serve: give either --nats URL (ARGUS_NATS) or --embedded-nats (ARGUS_EMBEDDED_NATS), not both")
	case !hasURL && !*c.embedded:
		return nil, errors.New("serve: needs --nats URL[,URL…] (ARGUS_NATS) for an external NATS, or --embedded-nats (ARGUS_EMBEDDED_NATS)")
	case hasURL && (*c.cluster != "" || *c.routes != ""):
		return nil, errors.New("serve: --nats-cluster-listen and --nats-routes need --embedded-nats")
	case hasURL && isSet(f, "nats-sync"):
		return nil, errors.New("serve: --nats-sync (ARGUS_NATS_SYNC) needs --embedded-nats; an external NATS server syncs as its own config says (jetstream { sync_interval: always })")
	}
	if *c.replicas < 0 || *c.replicas > 5 {
		return nil, fmt.Errorf("serve: --replicas %d: want 0 (auto) to 5", *c.replicas)
	}
	if *c.embedded {
		if *c.routes != "" && *c.cluster == "" {
			*c.cluster = "0.0.0.0:6222"
		}
		if *c.cluster != "" && *c.routes == "" {
			return nil, errors.New("serve: --nats-cluster-listen needs --nats-routes (nats://host:port of every member, this node included)")
		}
		if *c.store == "" {
			*c.store = filepath.Join(*c.node.data, "nats")
		}
		if strings.TrimSpace(*c.sync) == "" {
			// One server: nothing but its disk holds an acknowledged event,
			// so every event is fsynced before its 2xx. Clustered: the ack
			// waits for a quorum of replicas, and JetStream's default stays.
			*c.sync = "always"
			if *c.routes != "" {
				*c.sync = embedded.DefaultSyncInterval.String()
			}
		}
		var err error
		if c.syncMode, err = parseNATSSync(f, *c.sync); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// configuredSize is the NATS cluster size the routes describe: every route,
// plus this node when its own route is not among them.
func (c *serveConfig) configuredSize() int {
	routes := c.routeList()
	if len(routes) == 0 {
		return 1
	}
	lh, lp, _ := net.SplitHostPort(*c.cluster)
	seen := map[string]bool{}
	self := false
	for _, r := range routes {
		hp := strings.TrimPrefix(strings.TrimPrefix(r, "nats-route://"), "nats://")
		seen[hp] = true
		h, p, err := net.SplitHostPort(hp)
		if err == nil && p == lp && (h == lh || lh == "" || lh == "0.0.0.0" || lh == "::") {
			self = true
		}
	}
	if !self {
		return len(seen) + 1
	}
	return len(seen)
}

// routes splits --nats-routes.
func (c *serveConfig) routeList() []string {
	var out []string
	for _, r := range strings.Split(*c.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// runServe runs a node against an external NATS (cluster) or an embedded
// NATS server that may be one member of a NATS cluster of Argus nodes.
func runServe(args []string) error {
	c, err := parseServe(args)
	if err != nil {
		return err
	}
	cfg := c.node
	if err := cfg.validate(); err != nil {
		return err
	}
	log, flushLog := newLogger(*cfg.logLevel)
	defer flushLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var target natsTarget
	var ns *server.Server
	if *c.embedded {
		var no embedded.Options
		if ns, no, err = startEmbedded(ctx, c, log); err != nil {
			return err
		}
		defer ns.Shutdown() // after n.Close below
		target = inProcess(ns, no)
	} else if target, err = cfg.nats.external(*c.nats); err != nil {
		return err
	}
	replicas, err := resolveReplicas(ctx, target, ns, *c.replicas, c.configuredSize())
	if err != nil {
		return err
	}
	log.Info("JetStream replicas", "replicas", replicas, "auto", *c.replicas == 0)

	n, err := startNode(ctx, cfg, log, target, *cfg.clickhouse, replicas)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	n.Close()
	return nil
}

// startEmbedded starts the embedded NATS server and waits for JetStream: in
// a cluster that needs a majority of the members, so it waits as long as it
// takes (logging) until ctx ends.
func startEmbedded(ctx context.Context, c *serveConfig, log *slog.Logger) (*server.Server, embedded.Options, error) {
	no := embedded.Options{
		StoreDir:      *c.store,
		Listen:        *c.listen,
		Name:          *c.node.nodeID,
		ClusterListen: *c.cluster,
		Routes:        c.routeList(),
		Logger:        natsLogger{log.With("component", "nats")},
		Sync:          c.syncMode,
	}
	if !events.ValidID(*c.node.nodeID) {
		return nil, no, fmt.Errorf("node id %q %s", *c.node.nodeID, events.IDRule)
	}
	if err := c.node.nats.embeddedServer(&no, *c.node.secret); err != nil {
		return nil, no, err
	}
	if err := os.MkdirAll(*c.store, 0o755); err != nil {
		return nil, no, err
	}
	ns, err := embedded.Start(no)
	if err != nil {
		return nil, no, fmt.Errorf("embedded NATS: %w", err)
	}
	log.Info("embedded NATS started", "url", embedded.LocalURL(ns), "listen", *c.listen,
		"cluster", *c.cluster, "routes", *c.routes, "store", *c.store, "sync", c.syncMode.String(), "user", no.User, "tls", no.TLS != nil)
	for {
		err := embedded.WaitJetStream(ns, 10*time.Second)
		if err == nil {
			break
		}
		if *c.cluster == "" {
			ns.Shutdown()
			return nil, no, fmt.Errorf("embedded NATS: %w", err)
		}
		log.Warn("waiting for the NATS cluster", "err", err)
		if ctx.Err() != nil {
			ns.Shutdown()
			return nil, no, errors.New("interrupted while waiting for the NATS cluster")
		}
	}
	log.Info("embedded NATS JetStream ready", "url", embedded.LocalURL(ns),
		"clustered", ns.JetStreamIsClustered(), "cluster_size", embedded.ClusterSize(ns))
	return ns, no, nil
}

// resolveReplicas picks the replicas of streams and buckets: want when > 0;
// else with the embedded server min(3, its JetStream cluster size); else it
// asks the external NATS by creating a throwaway in-memory stream at R3 (then
// R2): a single server answers "replicas > 1 not supported in non-clustered
// mode" (1), a cluster of fewer JetStream servers "insufficient resources"
// or "no suitable peers" (try fewer).
func resolveReplicas(ctx context.Context, target natsTarget, ns *server.Server, want, configured int) (int, error) {
	if want > 0 {
		return want, nil
	}
	if ns != nil {
		// The configured size, not the peers seen so far: a node that starts
		// first sees fewer, and a stream created at R2 in a cluster of three
		// loses its quorum with the first node that dies.
		return min(3, max(configured, embedded.ClusterSize(ns))), nil
	}
	nc, err := nats.Connect(target.url, append([]nats.Option{nats.Name("argus-replicas-probe")}, target.opts...)...)
	if err != nil {
		return 0, fmt.Errorf("connect NATS %s: %w", target.name(), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "ARGUS_REPLICAS_PROBE_" + hex.EncodeToString(b[:])
	for r := 3; r > 1; r-- {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name:     name,
			Subjects: []string{"_argus.replicas_probe." + hex.EncodeToString(b[:])},
			Storage:  jetstream.MemoryStorage,
			Replicas: r,
			MaxMsgs:  1,
		})
		if err == nil {
			if err := js.DeleteStream(ctx, name); err != nil {
				return 0, fmt.Errorf("delete replicas probe stream %s: %w", name, err)
			}
			return r, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) {
			return 0, fmt.Errorf("probe NATS replicas: %w", err)
		}
		switch apiErr.ErrorCode {
		case 10074: // replicas > 1 not supported in non-clustered mode
			return 1, nil
		case 10023, 10005: // insufficient resources, no suitable peers: fewer servers
			continue
		default:
			return 0, fmt.Errorf("probe NATS replicas: %w", err)
		}
	}
	return 1, nil
}

// natsLogger puts the embedded server's log into slog: notices at debug
// (startup banners, route churn), warnings and errors as such.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "leader") { // elections matter when a node dies
		n.l.Info(msg)
		return
	}
	n.l.Debug(msg)
}
func (n natsLogger) Warnf(format string, v ...any)  { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n natsLogger) Fatalf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Errorf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Debugf(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }

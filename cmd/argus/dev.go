package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/argus-vms/argus/events/embedded"
	"github.com/argus-vms/argus/projections/chserver"
)

// runDev runs a whole Argus on one machine: embedded NATS under
// <data>/nats, ClickHouse from ARGUS_CLICKHOUSE or a clickhouse-server child
// under <data>/clickhouse, the actors and the HTTP API.
func runDev(args []string) error {
	f := newFlags("dev")
	cfg := addNodeFlags(f)
	natsListen := f.String("nats-listen", "127.0.0.1:4222", "embedded NATS client listen address")
	natsSync := f.String("nats-sync", "always", natsSyncHelp+"always by default: dev is one server, and no replica holds an event")
	demoN := f.Int("demo", 0, "start N fake cameras in the process, registered once as devices demo-1…demo-N with continuous recording (see <data>/demo.json)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	syncMode, err := parseNATSSync(f, *natsSync)
	if err != nil {
		return err
	}
	log, flushLog := newLogger(*cfg.logLevel)
	defer flushLog()
	if !isSet(f, "peer-port") {
		*cfg.peerPort = 0 // one node: no peers to agree on a port with
	}
	if err := os.MkdirAll(*cfg.data, 0o755); err != nil {
		return err
	}
	adminKey, generated, err := fileSecret(*cfg.adminKey, *cfg.data, "admin.key")
	if err != nil {
		return err
	}
	*cfg.adminKey = adminKey
	if generated {
		// Printed once, on stdout only, when it is created.
		fmt.Printf("admin key (saved in %s): %s\n", filepath.Join(*cfg.data, "admin.key"), adminKey)
	} else if os.Getenv("ARGUS_ADMIN_KEY") == "" {
		log.Info("admin key is in " + filepath.Join(*cfg.data, "admin.key"))
	}
	if *cfg.secret, _, err = fileSecret(*cfg.secret, *cfg.data, "secret.key"); err != nil {
		return err
	}

	no := embedded.Options{StoreDir: filepath.Join(*cfg.data, "nats"), Listen: *natsListen, Name: *cfg.nodeID, Sync: syncMode}
	if err := cfg.nats.embeddedServer(&no, *cfg.secret); err != nil {
		return err
	}
	ns, err := embedded.Start(no)
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	defer ns.Shutdown()
	log.Info("embedded NATS running", "url", ns.ClientURL(), "user", no.User, "tls", no.TLS != nil, "sync", syncMode.String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	chAddr := *cfg.clickhouse
	switch chAddr {
	case "none":
		log.Warn("analytics disabled: ARGUS_CLICKHOUSE=none; analytics endpoints answer 503")
		chAddr = ""
	case "":
		if bin, err := chserver.Find(); err != nil {
			log.Warn("analytics disabled: no ClickHouse (set ARGUS_CLICKHOUSE or install clickhouse-server); analytics endpoints answer 503", "reason", err.Error())
		} else {
			*cfg.chUser, *cfg.chPassword = "default", derivedClickHousePassword(*cfg.secret)
			chs, err := chserver.Start(ctx, chserver.Options{Dir: filepath.Join(*cfg.data, "clickhouse"), Binary: bin, Password: *cfg.chPassword})
			if err != nil {
				log.Warn("analytics disabled: clickhouse-server did not start; analytics endpoints answer 503", "err", err)
			} else {
				defer chs.Stop()
				chAddr = chs.Addr()
				log.Info("clickhouse-server child running", "addr", chAddr)
			}
		}
	}

	n, err := startNode(ctx, cfg, log, inProcess(ns, no), chAddr, 1)
	if err != nil {
		return err
	}
	if *demoN > 0 {
		if d, err := startDemo(ctx, n.host, *demoN, *cfg.data, log); err != nil {
			log.Error("demo cameras not started", "err", err)
		} else {
			defer d.Close() // after the node: no offline noise while it stops
		}
	}
	fmt.Printf("console: %s\n", consoleURL(n.cluster.Self().HTTP))
	<-ctx.Done()
	log.Info("shutting down")
	n.Close()
	return nil
}

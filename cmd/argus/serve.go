package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// runServe runs a node against an external NATS (cluster).
func runServe(args []string) error {
	f := newFlags("serve")
	cfg := addNodeFlags(f)
	natsURL := f.String("nats", "", "NATS URL(s), comma-separated")
	replicas := f.Int("replicas", 1, "JetStream replicas of streams and buckets (3 on a 3-server NATS cluster)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *natsURL == "" {
		return errors.New("serve needs --nats / ARGUS_NATS")
	}
	log := newLogger(*cfg.logLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := startNode(ctx, cfg, log, *natsURL, *cfg.clickhouse, *replicas)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	n.Close()
	return nil
}

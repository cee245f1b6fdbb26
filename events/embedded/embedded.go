// Package embedded runs a NATS server with JetStream inside the Argus process
// (`argus dev`, `argus serve --embedded-nats`, tests).
package embedded

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options for an embedded server.
type Options struct {
	StoreDir string // JetStream file storage
	Listen   string // client host:port; "127.0.0.1:0" picks a free port
	Name     string // server name, unique in a cluster
	// ClusterListen and Routes join a NATS cluster (names "argus").
	ClusterListen string
	Routes        []string
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	host, port, err := splitHostPort(o.Listen, "127.0.0.1", 4222)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", o.Listen, err)
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if o.ClusterListen != "" {
		ch, cp, err := splitHostPort(o.ClusterListen, "127.0.0.1", 6222)
		if err != nil {
			return nil, fmt.Errorf("nats cluster listen %q: %w", o.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: "argus", Host: ch, Port: cp}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("nats route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats not ready after 30s")
	}
	return s, nil
}

func splitHostPort(hp, defHost string, defPort int) (string, int, error) {
	if hp == "" {
		return defHost, defPort, nil
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		h = "0.0.0.0"
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return h, port, nil
}

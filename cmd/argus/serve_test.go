package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/argus-vms/argus/events/embedded"
)

var serveEnv = []string{"ARGUS_NATS", "ARGUS_EMBEDDED_NATS", "ARGUS_NATS_LISTEN", "ARGUS_NATS_ROUTES",
	"ARGUS_NATS_CLUSTER_LISTEN", "ARGUS_NATS_STORE", "ARGUS_REPLICAS", "ARGUS_DATA"}

func TestServeFlagValidation(t *testing.T) {
	unsetEnv(t, serveEnv...)
	for _, tc := range []struct {
		args    []string
		wantErr string // "" = accepted
	}{
		{nil, "needs --nats"},
		{[]string{"--nats", "nats://a:4222", "--embedded-nats"}, "not both"},
		{[]string{"--nats", "nats://a:4222,nats://b:4222"}, ""},
		{[]string{"--embedded-nats"}, ""},
		{[]string{"--nats", "nats://a:4222", "--nats-routes", "nats://b:6222"}, "need --embedded-nats"},
		{[]string{"--embedded-nats", "--nats-cluster-listen", ":6222"}, "needs --nats-routes"},
		{[]string{"--embedded-nats", "--replicas", "-1"}, "--replicas"},
	} {
		_, err := parseServe(tc.args)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: got %v, want an error with %q", tc.args, err, tc.wantErr)
		}
	}

	// The same through the environment twins.
	t.Setenv("ARGUS_NATS", "nats://a:4222")
	t.Setenv("ARGUS_EMBEDDED_NATS", "true")
	if _, err := parseServe(nil); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both from env: %v", err)
	}
}

func TestServeRoutesDefaultClusterListen(t *testing.T) {
	unsetEnv(t, serveEnv...)
	c, err := parseServe([]string{"--embedded-nats", "--data", "/d", "--nats-routes", "nats://a:6222, nats://b:6222,nats://c:6222"})
	if err != nil {
		t.Fatal(err)
	}
	if *c.cluster != "0.0.0.0:6222" || *c.store != "/d/nats" || len(c.routeList()) != 3 || c.routeList()[1] != "nats://b:6222" {
		t.Fatalf("cluster %q store %q routes %q", *c.cluster, *c.store, c.routeList())
	}
}

func TestResolveReplicas(t *testing.T) {
	ctx := context.Background()
	single, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Shutdown()
	if r, err := resolveReplicas(ctx, natsTarget{url: single.ClientURL()}, nil, 2, 1); err != nil || r != 2 {
		t.Fatalf("explicit: %d %v", r, err)
	}
	if r, err := resolveReplicas(ctx, natsTarget{url: single.ClientURL()}, single, 0, 1); err != nil || r != 1 {
		t.Fatalf("embedded single: %d %v", r, err)
	}
	if r, err := resolveReplicas(ctx, natsTarget{url: single.ClientURL()}, nil, 0, 1); err != nil || r != 1 {
		t.Fatalf("external single: %d %v", r, err)
	}

	// A 3-server cluster, each listing all three routes.
	var routes []string
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	var servers []*server.Server
	for i := range ports {
		s, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Name: fmt.Sprintf("n%d", i),
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown()
		servers = append(servers, s)
	}
	for _, s := range servers {
		if err := embedded.WaitJetStream(s, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := resolveReplicas(ctx, natsTarget{url: servers[1].ClientURL()}, servers[1], 0, 3); err != nil || r != 3 {
		t.Fatalf("embedded cluster: %d %v", r, err)
	}
	if r, err := resolveReplicas(ctx, natsTarget{url: servers[2].ClientURL()}, nil, 0, 3); err != nil || r != 3 {
		t.Fatalf("external cluster: %d %v", r, err)
	}
}

// The replicas of an embedded cluster come from its configured routes, not
// from the peers a node saw first (R2 in a cluster of three would lose its
// quorum with the first dead node).
func TestConfiguredSize(t *testing.T) {
	for _, tc := range []struct {
		listen, routes string
		want           int
	}{
		{"127.0.0.1:6221", "nats://127.0.0.1:6221,nats://127.0.0.1:6222,nats://127.0.0.1:6223", 3},
		{"127.0.0.1:6221", "nats://127.0.0.1:6222,nats://127.0.0.1:6223", 3},
		{"0.0.0.0:6222", "nats://argus-0.argus:6222,nats://argus-1.argus:6222,nats://argus-2.argus:6222", 3},
		{"", "", 1},
	} {
		c := &serveConfig{cluster: &tc.listen, routes: &tc.routes}
		if got := c.configuredSize(); got != tc.want {
			t.Errorf("listen %s routes %s: %d, want %d", tc.listen, tc.routes, got, tc.want)
		}
	}
}

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/argus-vms/argus/events"
)

func TestDefaultNodeIDIsValid(t *testing.T) {
	if id := defaultNodeID(); !events.ValidID(id) {
		t.Fatalf("default node id %q is not a valid id", id)
	}
}

func TestUDPPorts(t *testing.T) {
	if r, c, err := udpPorts(":8000"); err != nil || r != ":8000" || c != ":8001" {
		t.Fatal(r, c, err)
	}
	if r, _, err := udpPorts(""); err != nil || r != "off" {
		t.Fatal(r, err)
	}
	if _, _, err := udpPorts(":8001"); err == nil {
		t.Fatal("odd port accepted")
	}
}

// unsetEnv removes names from the environment for the test (restored after).
func unsetEnv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
}

func TestBoolFlag(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"true", nil, true},
		{"1", nil, true},
		{"TRUE", nil, true},
		{"false", nil, false},
		{"0", nil, false},
		{"nonsense", nil, false}, // ignored with a warning: the default stays
		{"0", []string{"--embedded-nats"}, true},
		{"1", []string{"--embedded-nats=false"}, false},
	} {
		unsetEnv(t, "ARGUS_EMBEDDED_NATS")
		if tc.env != "" {
			t.Setenv("ARGUS_EMBEDDED_NATS", tc.env)
		}
		f := newFlags("test")
		b := f.Bool("embedded-nats", false, "help")
		if err := f.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if *b != tc.want {
			t.Errorf("ARGUS_EMBEDDED_NATS=%q args %q: got %v, want %v", tc.env, tc.args, *b, tc.want)
		}
	}
	// The twin is named after the flag, and the usage says so.
	f := newFlags("test")
	f.Bool("embedded-nats", false, "help")
	if u := f.Lookup("embedded-nats").Usage; !strings.Contains(u, "[ARGUS_EMBEDDED_NATS]") {
		t.Fatalf("usage %q", u)
	}
}

func TestServeEmbeddedFromEnv(t *testing.T) {
	unsetEnv(t, "ARGUS_NATS", "ARGUS_NATS_ROUTES", "ARGUS_NATS_CLUSTER_LISTEN", "ARGUS_NATS_STORE", "ARGUS_REPLICAS", "ARGUS_PEER_PORT")
	t.Setenv("ARGUS_EMBEDDED_NATS", "1")
	t.Setenv("ARGUS_DATA", "/tmp/argus-x")
	c, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !*c.embedded || *c.store != "/tmp/argus-x/nats" || *c.listen != "0.0.0.0:4222" || *c.replicas != 0 || *c.node.peerPort != 7000 {
		t.Fatalf("embedded %v store %q listen %q replicas %d peer port %d", *c.embedded, *c.store, *c.listen, *c.replicas, *c.node.peerPort)
	}
}

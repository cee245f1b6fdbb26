package main

import (
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

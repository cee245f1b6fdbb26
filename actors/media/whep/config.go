package whep

import (
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config is the ICE and session setup of a Server.
type Config struct {
	// UDPAddr is the one UDP port for all ICE traffic, e.g. ":8189"; with a
	// specific IP only that address is advertised. "" disables the mux:
	// every session then gathers on ephemeral ports.
	UDPAddr string
	// TCPAddr is the ICE-TCP passive fallback on one port (for networks that
	// block UDP); "" = none.
	TCPAddr string
	// PublicIPs are advertised as extra host candidates (NAT 1:1: a cloud
	// VM, a container with published ports), next to the local addresses so
	// LAN viewers keep their direct path.
	PublicIPs []string
	// STUNServers, e.g. "stun:stun.l.google.com:19302"; empty = none (the
	// default for a closed network). Note that server-reflexive candidates
	// are gathered on ephemeral ports, not on UDPAddr: pion/webrtc does not
	// expose a STUN-capable mux; prefer PublicIPs behind a known NAT.
	STUNServers []string
	// Loopback includes loopback candidates (tests on one machine); it is
	// required when UDPAddr or TCPAddr is a loopback address.
	Loopback bool
	Log      *slog.Logger
	// SessionTimeout closes a session that is not connected after this
	// long (default 10 s): an abandoned offer must not hold a session.
	SessionTimeout time.Duration
}

const defaultSessionTimeout = 10 * time.Second

func (c *Config) setDefaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = defaultSessionTimeout
	}
}

func (c *Config) validate() error {
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("whep: public IP %q is not an IP address", ip)
		}
	}
	for _, a := range []struct{ name, addr string }{{"UDPAddr", c.UDPAddr}, {"TCPAddr", c.TCPAddr}} {
		if a.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("whep: %s %q: %w", a.name, a.addr, err)
		}
		// pion drops loopback candidates unless asked for them, which would
		// leave a loopback-bound port without a single candidate.
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !c.Loopback {
			return fmt.Errorf("whep: %s %q is a loopback address: set Loopback", a.name, a.addr)
		}
	}
	return nil
}

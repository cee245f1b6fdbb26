package onvif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// WS-Discovery's multicast group, and what a probe is sent to and as.
const (
	DiscoveryAddress = "239.255.255.250:3702"
	discoveryPort    = "3702"
	discoveryTo      = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	actionProbe      = NSDiscover + "/Probe"
)

// Bounds of a probe: a datagram (the largest UDP payload, so none is cut)
// and the candidates kept.
const (
	maxDatagram   = 65507
	maxCandidates = 1024
)

// ProbeOptions say where to look for cameras.
type ProbeOptions struct {
	// Interface sends the multicast probe from this interface's first IPv4
	// address ("": the default route's).
	Interface string
	// Targets are host[:port] to probe by unicast instead of multicast
	// (port 3702 when absent).
	Targets []string
	// Timeout is how long answers are collected; 0 means 2 s.
	Timeout time.Duration
}

// Candidate is a device that answered a probe.
type Candidate struct {
	Address     string   // first XAddr: the device service
	XAddrs      []string // every XAddr given
	EndpointRef string   // the device's stable id (urn:uuid:…)
	Scopes      []string
	// From the onvif://www.onvif.org/ scopes, unescaped; Model is the
	// hardware scope when the device has no model scope.
	Manufacturer, Model, Name, Hardware string
}

type probeBody struct {
	XMLName struct{} `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery Probe"`
	Types   string   `xml:"Types"`
}

// probeMessage is the probe for NetworkVideoTransmitters with messageID.
func probeMessage(messageID string) ([]byte, error) {
	h := &Header{Addressing: NSWsaDisc, MessageID: messageID, To: discoveryTo, Action: actionProbe}
	return MarshalEnvelope(h, probeBody{Types: "dn:NetworkVideoTransmitter"})
}

// Probe sends a WS-Discovery probe for NetworkVideoTransmitters, by
// multicast or to o.Targets, and gathers the answers until o.Timeout or
// ctx ends, one Candidate per device. The probe is sent twice, as UDP may
// lose it. Unicast probes end early once every target has answered.
func Probe(ctx context.Context, o ProbeOptions) ([]Candidate, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	dests, network, err := probeDestinations(o.Targets)
	if err != nil {
		return nil, err
	}
	local, err := probeLocalAddr(o.Interface, len(o.Targets) == 0)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP(network, local)
	if err != nil {
		return nil, fmt.Errorf("onvif: probe: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	messageID := "urn:uuid:" + newUUID()
	msg, err := probeMessage(messageID)
	if err != nil {
		return nil, err
	}
	send := func() error {
		var errs []error
		for _, d := range dests {
			if _, err := conn.WriteToUDP(msg, d); err != nil {
				errs = append(errs, fmt.Errorf("onvif: probe %s: %w", d, err))
			}
		}
		if len(errs) == len(dests) {
			return errors.Join(errs...)
		}
		return nil
	}
	if err := send(); err != nil {
		return nil, err
	}

	end := time.Now().Add(o.Timeout)
	resend := time.Now().Add(o.Timeout / 4)
	seen := map[string]bool{}
	waiting := map[string]bool{} // unicast targets that have not answered yet
	if len(o.Targets) > 0 {
		for _, d := range dests {
			waiting[d.String()] = true
		}
	}
	var found []Candidate
	buf := make([]byte, maxDatagram)
	for ctx.Err() == nil && time.Now().Before(end) && len(found) < maxCandidates {
		deadline := end
		if !resend.IsZero() {
			deadline = resend
		}
		conn.SetReadDeadline(deadline)
		if ctx.Err() != nil {
			break // ended before the deadline above replaced the context's
		}
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return found, fmt.Errorf("onvif: probe: %w", err)
			}
			if !resend.IsZero() && time.Now().After(resend) {
				resend = time.Time{}
				_ = send()
			}
			continue
		}
		matches, err := parseProbeMatches(buf[:n], messageID)
		if err != nil {
			continue // not an answer to us, or garbled: others may be fine
		}
		for _, m := range matches {
			key := m.EndpointRef
			if key == "" {
				key = m.Address
			}
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			found = append(found, m)
		}
		if len(matches) > 0 && from != nil && waiting[from.String()] {
			delete(waiting, from.String())
			if len(waiting) == 0 {
				break
			}
		}
	}
	if ctx.Err() != nil && time.Now().Before(end) {
		return found, ctx.Err()
	}
	return found, nil
}

// probeDestinations resolves the targets, or is the multicast group.
func probeDestinations(targets []string) ([]*net.UDPAddr, string, error) {
	if len(targets) == 0 {
		a, err := net.ResolveUDPAddr("udp4", DiscoveryAddress)
		return []*net.UDPAddr{a}, "udp4", err
	}
	var dests []*net.UDPAddr
	for _, t := range targets {
		hostport := t
		if _, _, err := net.SplitHostPort(t); err != nil {
			hostport = net.JoinHostPort(strings.Trim(t, "[]"), discoveryPort)
		}
		a, err := net.ResolveUDPAddr("udp", hostport)
		if err != nil {
			return nil, "", fmt.Errorf("onvif: probe target %q: %w", t, err)
		}
		dests = append(dests, a)
	}
	return dests, "udp", nil
}

// probeLocalAddr is the address to send from: the interface's first IPv4
// address for a multicast probe on an interface. Linux sends multicast out
// of the interface that holds the socket's source address.
func probeLocalAddr(name string, multicast bool) (*net.UDPAddr, error) {
	if name == "" || !multicast {
		return nil, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("onvif: probe interface: %w", err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("onvif: probe interface %s: %w", name, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return &net.UDPAddr{IP: ipn.IP.To4()}, nil
		}
	}
	return nil, fmt.Errorf("onvif: probe interface %s has no IPv4 address", name)
}

type probeMatchesBody struct {
	ProbeMatch []struct {
		EndpointReference struct {
			Address string `xml:"Address"`
		} `xml:"EndpointReference"`
		Types  string `xml:"Types"`
		Scopes string `xml:"Scopes"`
		XAddrs string `xml:"XAddrs"`
	} `xml:"ProbeMatch"`
}

// parseProbeMatches reads a ProbeMatches datagram answering messageID
// (an answer that relates to nothing is taken too: some cameras omit it).
func parseProbeMatches(doc []byte, messageID string) ([]Candidate, error) {
	env, err := ParseEnvelope(doc)
	if err != nil {
		return nil, err
	}
	if env.BodyName.Local != "ProbeMatches" {
		return nil, fmt.Errorf("%w: %s is not ProbeMatches", ErrNotONVIF, env.BodyName.Local)
	}
	if r := env.Header.RelatesTo; r != "" && messageID != "" && r != messageID {
		return nil, errors.New("onvif: probe match for another probe")
	}
	var body probeMatchesBody
	if err := env.DecodeBody(&body); err != nil {
		return nil, err
	}
	var out []Candidate
	for _, m := range body.ProbeMatch {
		c := Candidate{
			EndpointRef: strings.TrimSpace(m.EndpointReference.Address),
			XAddrs:      strings.Fields(m.XAddrs),
			Scopes:      strings.Fields(m.Scopes),
		}
		if len(c.XAddrs) > 0 {
			c.Address = c.XAddrs[0]
		}
		c.fillFromScopes()
		out = append(out, c)
	}
	return out, nil
}

// fillFromScopes reads the ONVIF scopes naming the device.
func (c *Candidate) fillFromScopes() {
	const onvifScope = "onvif://www.onvif.org/"
	for _, s := range c.Scopes {
		rest, ok := strings.CutPrefix(s, onvifScope)
		if !ok {
			continue
		}
		key, value, _ := strings.Cut(rest, "/")
		if v, err := url.PathUnescape(value); err == nil {
			value = v
		}
		switch strings.ToLower(key) {
		case "name":
			c.Name = value
		case "hardware":
			c.Hardware = value
		case "model":
			c.Model = value
		case "manufacturer", "mfr":
			c.Manufacturer = value
		}
	}
	if c.Model == "" {
		c.Model = c.Hardware
	}
}

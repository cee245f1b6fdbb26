package onvifsrv

import (
	"net"
	"strings"
	"testing"
	"time"
)

// agshProbe is the probe agsh/onvif sends: default namespaces, dn declared
// on the envelope.
func agshProbe(msgID string) string {
	return `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
		`<Header><wsa:MessageID xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">` + msgID + `</wsa:MessageID>` +
		`<wsa:To xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>` +
		`<wsa:Action xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>` +
		`</Header><Body><Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">` +
		`<Types>dn:NetworkVideoTransmitter</Types><Scopes /></Probe></Body></Envelope>`
}

// prefixedProbe is the style of ONVIF Device Manager and most NVRs.
func prefixedProbe(msgID, types, scopes string) string {
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"` +
		` xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
		`<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>` +
		`<a:MessageID>` + msgID + `</a:MessageID><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
		`<s:Body><d:Probe><d:Types>` + types + `</d:Types>` + scopes + `</d:Probe></s:Body></s:Envelope>`
}

// probe sends one datagram to addr and returns the answer, "" after wait.
func probe(t *testing.T, addr, datagram string, wait time.Duration) string {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if to.IP.IsMulticast() {
		local = &net.UDPAddr{}
	}
	c, err := net.ListenUDP("udp4", local)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDP([]byte(datagram), to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, maxDatagram)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	if !to.IP.IsMulticast() && from.String() != to.String() {
		t.Fatalf("answer from %v, want %v", from, to)
	}
	return string(buf[:n])
}

func TestDiscoveryUnicast(t *testing.T) {
	s := start(t, Options{Discovery: true, Model: "X1", Manufacturer: "Acme", PTZ: true})
	if s.DiscoveryAddr() == "" {
		t.Fatal("no discovery address")
	}
	for name, msg := range map[string]string{
		"agsh":      agshProbe("urn:uuid:11111111-2222-3333-4444-555555555555"),
		"prefixed":  prefixedProbe("urn:uuid:11111111-2222-3333-4444-555555555555", "dn:NetworkVideoTransmitter", ""),
		"two types": prefixedProbe("urn:uuid:11111111-2222-3333-4444-555555555555", "dn:NetworkVideoTransmitter tds:Device", ""),
		"no types":  prefixedProbe("urn:uuid:11111111-2222-3333-4444-555555555555", "", ""),
		"scope": prefixedProbe("urn:uuid:11111111-2222-3333-4444-555555555555", "dn:NetworkVideoTransmitter",
			`<d:Scopes>onvif://www.onvif.org/hardware/X1 onvif://www.onvif.org/type</d:Scopes>`),
		"undeclared prefix": prefixedProbe("urn:uuid:11111111-2222-3333-4444-555555555555", "dnx:NetworkVideoTransmitter", ""),
	} {
		t.Run(name, func(t *testing.T) {
			answer := probe(t, s.DiscoveryAddr(), msg, 3*time.Second)
			if answer == "" {
				t.Fatal("no answer")
			}
			root, err := parseTree([]byte(answer))
			if err != nil {
				t.Fatalf("answer: %v\n%s", err, answer)
			}
			hdr := root.child("Header")
			if hdr.childNS("http://schemas.xmlsoap.org/ws/2004/08/addressing", "RelatesTo").text() != "urn:uuid:11111111-2222-3333-4444-555555555555" ||
				hdr.child("Action").text() != actionProbeMatches || hdr.child("AppSequence") == nil {
				t.Fatalf("header: %s", answer)
			}
			m := path(root, "Body", "ProbeMatches", "ProbeMatch")
			if m == nil || m.Name.Space != "http://schemas.xmlsoap.org/ws/2005/04/discovery" {
				t.Fatalf("no ProbeMatch: %s", answer)
			}
			if got := path(m, "EndpointReference", "Address").text(); got != s.endpoint {
				t.Errorf("endpoint %q, want %q", got, s.endpoint)
			}
			if got := m.child("XAddrs").text(); got != s.DeviceURL() {
				t.Errorf("XAddrs %q", got)
			}
			types := m.child("Types")
			var resolved []string
			for _, q := range strings.Fields(types.text()) {
				n, ok := types.resolve(q)
				if !ok {
					t.Fatalf("type %q does not resolve", q)
				}
				resolved = append(resolved, n.Space+" "+n.Local)
			}
			if strings.Join(resolved, ",") != "http://www.onvif.org/ver10/network/wsdl NetworkVideoTransmitter,http://www.onvif.org/ver10/device/wsdl Device" {
				t.Errorf("types %v", resolved)
			}
			scopes := m.child("Scopes").text()
			for _, want := range []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/hardware/X1", "onvif://www.onvif.org/name/Acme", "onvif://www.onvif.org/location/"} {
				if !strings.Contains(scopes, want) {
					t.Errorf("scopes %q lack %q", scopes, want)
				}
			}
			if m.child("MetadataVersion").text() == "" {
				t.Error("no MetadataVersion")
			}
		})
	}

	// Probes that do not match, or are no probes, get no answer.
	for name, msg := range map[string]string{
		"other type":     prefixedProbe("urn:uuid:1", "dn:Printer", ""),
		"other scope":    prefixedProbe("urn:uuid:1", "", `<d:Scopes>onvif://www.onvif.org/hardware/X2</d:Scopes>`),
		"strcmp0 prefix": prefixedProbe("urn:uuid:1", "", `<d:Scopes MatchBy="http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0">onvif://www.onvif.org/type</d:Scopes>`),
		"no message id":  strings.Replace(prefixedProbe("urn:uuid:1", "", ""), "<a:MessageID>urn:uuid:1</a:MessageID>", "", 1),
		"garbage":        "hello",
	} {
		t.Run(name, func(t *testing.T) {
			if answer := probe(t, s.DiscoveryAddr(), msg, 300*time.Millisecond); answer != "" {
				t.Fatalf("answered: %s", answer)
			}
		})
	}

	// The same socket after a restart.
	addr := s.DiscoveryAddr()
	restart(t, s)
	if s.DiscoveryAddr() != addr || probe(t, addr, agshProbe("urn:uuid:2"), 3*time.Second) == "" {
		t.Fatal("no answer after restart")
	}
}

func TestDiscoveryOff(t *testing.T) {
	s := start(t, Options{})
	if s.DiscoveryAddr() != "" {
		t.Fatalf("discovery address %q without Discovery", s.DiscoveryAddr())
	}
}

// Multicast needs a multicast-capable interface (loopback is one here);
// a machine without one fails this test, as it fails the e2e discovery
// test: multicast discovery is part of what Argus promises.
func TestDiscoveryMulticast(t *testing.T) {
	s, err := Start(t.Context(), Options{Discovery: true, DiscoveryMulticast: true,
		Profiles: []Profile{{StreamURI: "rtsp://127.0.0.1/x", Width: 320, Height: 180}}})
	if err != nil {
		if !strings.Contains(err.Error(), "multicast") {
			t.Fatalf("Start: %v", err)
		}
		t.Fatalf("no multicast here: %v", err)
	}
	defer s.Close()
	// Other devices on the network (or other tests' cameras) may answer
	// too: read until ours does.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	group, _ := net.ResolveUDPAddr("udp4", discoveryGroup)
	if _, err := c.WriteToUDP([]byte(agshProbe("urn:uuid:3")), group); err != nil {
		t.Fatalf("cannot send to %s here: %v", discoveryGroup, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatal("multicast probe not answered on this machine (no multicast route?)")
		}
		if answer := string(buf[:n]); strings.Contains(answer, "<d:XAddrs>"+s.DeviceURL()+"</d:XAddrs>") {
			if !strings.Contains(answer, "urn:uuid:3") {
				t.Fatalf("answer does not relate to the probe: %s", answer)
			}
			return
		}
	}
}

package onvif

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeResponder answers each probe on a UDP socket with the canned
// ProbeMatches, relating it to the probe's MessageID.
func probeResponder(t *testing.T, host string) (addr string, probes *atomic.Int32) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	canned := readTestdata(t, "probe_matches.xml")
	probes = new(atomic.Int32)
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			env, err := ParseEnvelope(buf[:n])
			if err != nil || env.BodyName.Local != "Probe" || env.BodyName.Space != NSDiscover {
				t.Errorf("not a probe: %v %s", err, buf[:n])
				continue
			}
			var p struct {
				Types string `xml:"Types"`
			}
			if err := env.DecodeBody(&p); err != nil || p.Types != "dn:NetworkVideoTransmitter" {
				t.Errorf("probe types %q %v", p.Types, err)
			}
			if env.Header.Action != actionProbe || env.Header.To != discoveryTo || !strings.HasPrefix(env.Header.MessageID, "urn:uuid:") {
				t.Errorf("probe header %+v", env.Header)
			}
			if !strings.Contains(string(buf[:n]), `xmlns:wsa="`+NSWsaDisc+`"`) {
				t.Errorf("probe not in 2004 addressing: %s", buf[:n])
			}
			probes.Add(1)
			answer := strings.NewReplacer("{{RELATES}}", env.Header.MessageID, "{{HOST}}", host).Replace(canned)
			conn.WriteToUDP([]byte(answer), from)
			// An answer to someone else's probe is ignored.
			conn.WriteToUDP([]byte(strings.NewReplacer("{{RELATES}}", "urn:uuid:other", "{{HOST}}", "192.0.2.99").Replace(canned)), from)
			conn.WriteToUDP([]byte("garbage"), from)
		}
	}()
	return conn.LocalAddr().String(), probes
}

// silentTarget is a UDP socket that never answers a probe.
func silentTarget(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String()
}

// TestProbeUnicastEndsWhenAllAnswered: one probe, answered at once, ends
// the probe long before its timeout.
func TestProbeUnicastEndsWhenAllAnswered(t *testing.T) {
	addr, probes := probeResponder(t, "192.0.2.10")
	start := time.Now()
	found, err := Probe(context.Background(), ProbeOptions{Targets: []string{addr}, Timeout: 5 * time.Second})
	if err != nil || len(found) != 1 {
		t.Fatalf("found %d, err %v", len(found), err)
	}
	if el := time.Since(start); el > 2*time.Second || probes.Load() != 1 {
		t.Fatalf("probe took %v with %d probes", el, probes.Load())
	}
}

func TestProbeUnicast(t *testing.T) {
	addr, probes := probeResponder(t, "192.0.2.10")
	start := time.Now()
	// A target that never answers keeps the probe open to its timeout.
	found, err := Probe(context.Background(), ProbeOptions{Targets: []string{addr, silentTarget(t)}, Timeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 400*time.Millisecond || el > 2*time.Second {
		t.Fatalf("probe took %v", el)
	}
	if probes.Load() != 2 {
		t.Fatalf("%d probes sent, want 2 (one again)", probes.Load())
	}
	if len(found) != 1 {
		t.Fatalf("candidates %+v (answers to both probes are one device)", found)
	}
	c := found[0]
	if c.Address != "http://192.0.2.10/onvif/device_service" || len(c.XAddrs) != 2 ||
		c.EndpointRef != "urn:uuid:4d454930-0000-1000-8000-bcbac2a1b2c3" ||
		c.Name != "Front Door" || c.Hardware != "DS-2CD2143G2-I" || c.Model != "DS-2CD2143G2-I" ||
		c.Manufacturer != "HIKVISION" || len(c.Scopes) != 7 {
		t.Fatalf("candidate %+v", c)
	}
}

func TestProbeEndsWithTheContext(t *testing.T) {
	addr, _ := probeResponder(t, "192.0.2.10")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	found, err := Probe(ctx, ProbeOptions{Targets: []string{addr, silentTarget(t)}, Timeout: 10 * time.Second})
	if time.Since(start) > 3*time.Second {
		t.Fatalf("probe outlived its context: %v", time.Since(start))
	}
	if err == nil || len(found) != 1 {
		t.Fatalf("found %d, err %v", len(found), err)
	}
}

func TestProbeTargetsWithoutPort(t *testing.T) {
	dests, _, err := probeDestinations([]string{"127.0.0.1", "[::1]", "127.0.0.1:4000"})
	if err != nil {
		t.Fatal(err)
	}
	if dests[0].Port != 3702 || dests[1].Port != 3702 || dests[2].Port != 4000 {
		t.Fatalf("ports %v", dests)
	}
	if _, _, err := probeDestinations([]string{"no such host.invalid"}); err == nil {
		t.Fatal("bad target accepted")
	}
}

func TestParseProbeMatchesScopes(t *testing.T) {
	doc := strings.NewReplacer("{{RELATES}}", "", "{{HOST}}", "10.0.0.5:8000").Replace(readTestdata(t, "probe_matches.xml"))
	doc = strings.Replace(doc, "onvif://www.onvif.org/manufacturer/HIKVISION", "onvif://www.onvif.org/mfr/Acme%20Corp onvif://www.onvif.org/model/X-100", 1)
	got, err := parseProbeMatches([]byte(doc), "urn:uuid:mine")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Manufacturer != "Acme Corp" || got[0].Model != "X-100" || got[0].Address != "http://10.0.0.5:8000/onvif/device_service" {
		t.Fatalf("%+v", got)
	}
}

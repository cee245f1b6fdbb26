package onvifsrv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/argus-vms/argus/actors/media/onvif"
)

// WS-Discovery (2005/04, ONVIF's) constants.
const (
	maxDatagram        = 64 << 10
	discoveryGroup     = "239.255.255.250:3702"
	actionProbe        = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
	actionProbeMatches = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
	matchRFC3986       = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986"
	matchStrcmp0       = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0"
	anonymousRole      = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
)

// discoveryPrefixes are declared on ProbeMatches envelopes: WS-Discovery
// speaks the 2004/08 addressing, and the Types QNames need dn and tds.
var discoveryPrefixes = [][2]string{
	{"env", onvif.NSSoap},
	{"wsa", onvif.NSWsaDisc},
	{"d", onvif.NSDiscover},
	{"dn", onvif.NSNetwork},
	{"tds", onvif.NSDevice},
}

// deviceTypes are the types this device matches in a probe.
var deviceTypes = []struct{ space, local, qname string }{
	{onvif.NSNetwork, "NetworkVideoTransmitter", "dn:NetworkVideoTransmitter"},
	{onvif.NSDevice, "Device", "tds:Device"},
}

// discoverer answers probes for one run: its AppSequence instance is the
// boot, as WS-Discovery wants.
type discoverer struct {
	instance string
	messages atomic.Uint64
}

// listenDiscovery binds the unicast socket (and the multicast group) and
// serves probes until the run halts.
func (s *Server) listenDiscovery(r *run, listen string) error {
	addr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return fmt.Errorf("onvifsrv: discovery address %s: %w", listen, err)
	}
	uc, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("onvifsrv: discovery listen %s: %w", listen, err)
	}
	conns := []*net.UDPConn{uc}
	if s.o.DiscoveryMulticast {
		group, _ := net.ResolveUDPAddr("udp4", discoveryGroup)
		mc, err := net.ListenMulticastUDP("udp4", nil, group)
		if err != nil {
			uc.Close()
			return fmt.Errorf("onvifsrv: join WS-Discovery multicast %s: %w", discoveryGroup, err)
		}
		conns = append(conns, mc)
	}
	if s.discAddr == "" {
		s.discAddr = uc.LocalAddr().String()
	}
	r.disc = &discoverer{instance: strconv.FormatInt(time.Now().Unix(), 10)}
	r.udp = conns
	for _, c := range conns {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.serveDiscovery(r, c)
		}()
	}
	return nil
}

func (s *Server) serveDiscovery(r *run, c *net.UDPConn) {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || r.ctx.Err() != nil {
				return
			}
			s.log.Debug("discovery read", "err", err)
			time.Sleep(10 * time.Millisecond) // no hot loop on a persistent error
			continue
		}
		if n == len(buf) {
			continue // truncated: larger than any probe
		}
		reply, err := s.answerProbe(r.disc, buf[:n])
		if err != nil {
			s.log.Debug("discovery datagram ignored", "from", from.String(), "why", err.Error())
			continue
		}
		if reply == nil {
			continue
		}
		if _, err := c.WriteToUDP(reply, from); err != nil {
			s.log.Debug("discovery reply", "to", from.String(), "err", err)
		} else {
			s.log.Debug("discovery probe answered", "to", from.String())
		}
	}
}

// answerProbe returns the ProbeMatches for a Probe this device matches,
// nil for one it does not, and an error for anything that is no probe.
func (s *Server) answerProbe(d *discoverer, datagram []byte) ([]byte, error) {
	root, err := parseTree(datagram)
	if err != nil {
		return nil, err
	}
	if root.Name.Space != onvif.NSSoap || root.Name.Local != "Envelope" {
		return nil, errors.New("not a SOAP 1.2 envelope")
	}
	header := root.childNS(onvif.NSSoap, "Header")
	probe := root.childNS(onvif.NSSoap, "Body").childNS(onvif.NSDiscover, "Probe")
	if probe == nil {
		return nil, errors.New("not a Probe")
	}
	if action := header.childNS(onvif.NSWsaDisc, "Action").text(); action != "" && action != actionProbe {
		return nil, fmt.Errorf("action %q is not Probe", action)
	}
	msgID := header.childNS(onvif.NSWsaDisc, "MessageID").text()
	if msgID == "" {
		return nil, errors.New("probe without MessageID")
	}
	if !matchTypes(probe.child("Types")) || !s.matchScopes(probe.child("Scopes")) {
		return nil, nil
	}
	return envelope(discoveryPrefixes, []node{
		leaf("wsa:MessageID", "urn:uuid:"+randomUUID()),
		leaf("wsa:RelatesTo", msgID),
		leaf("wsa:To", anonymousRole),
		leaf("wsa:Action", actionProbeMatches),
		el("d:AppSequence").attr("InstanceId", d.instance).attr("MessageNumber", strconv.FormatUint(d.messages.Add(1), 10)),
	}, el("d:ProbeMatches", s.probeMatch())), nil
}

func (s *Server) probeMatch() node {
	types := make([]string, len(deviceTypes))
	for i, t := range deviceTypes {
		types[i] = t.qname
	}
	return el("d:ProbeMatch",
		el("wsa:EndpointReference", leaf("wsa:Address", s.endpoint)),
		leaf("d:Types", strings.Join(types, " ")),
		leaf("d:Scopes", strings.Join(s.scopes(), " ")),
		leaf("d:XAddrs", s.base+devicePath),
		leaf("d:MetadataVersion", "1"),
	)
}

// matchTypes: every type asked must be one of deviceTypes. A prefix the
// probe forgot to declare is matched by local name, as cameras do.
func matchTypes(types *elem) bool {
	for _, q := range strings.Fields(types.text()) {
		name, declared := types.resolve(q)
		found := false
		for _, t := range deviceTypes {
			if name.Local == t.local && (!declared || name.Space == "" || name.Space == t.space) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matchScopes: every scope asked must match one of the device's, by
// RFC 3986 segment prefix (the default) or exact string comparison.
func (s *Server) matchScopes(scopes *elem) bool {
	want := strings.Fields(scopes.text())
	if len(want) == 0 {
		return true
	}
	rule, _ := scopes.attr("MatchBy")
	if rule != "" && rule != matchRFC3986 && rule != matchStrcmp0 {
		return false
	}
	have := s.scopes()
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w || rule != matchStrcmp0 && strings.HasPrefix(h, strings.TrimSuffix(w, "/")+"/") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// randomUUID is a version 4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

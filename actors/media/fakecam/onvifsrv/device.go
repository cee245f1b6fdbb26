package onvifsrv

import (
	"net/url"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/onvif"
)

// onvifMajor.onvifMinor is the ONVIF release the services claim (GetServices,
// GetCapabilities).
const onvifMajor, onvifMinor = 2, 60

// deviceOps are the device service (ver10 device WSDL).
var deviceOps = map[string]operation{
	"GetSystemDateAndTime":   {preAuth: true, handle: (*call).getSystemDateAndTime},
	"GetWsdlUrl":             {preAuth: true, handle: (*call).getWsdlURL},
	"GetServices":            {preAuth: true, handle: (*call).getServices},
	"GetServiceCapabilities": {preAuth: true, handle: (*call).deviceServiceCapabilities},
	"GetEndpointReference":   {preAuth: true, handle: (*call).getEndpointReference},
	"GetDeviceInformation":   {handle: (*call).getDeviceInformation},
	"GetCapabilities":        {handle: (*call).getCapabilities},
	"GetScopes":              {handle: (*call).getScopes},
}

func dateTimeNode(name string, t time.Time) node {
	t = t.UTC()
	return el(name,
		el("tt:Time", leaf("tt:Hour", itoa(t.Hour())), leaf("tt:Minute", itoa(t.Minute())), leaf("tt:Second", itoa(t.Second()))),
		el("tt:Date", leaf("tt:Year", itoa(t.Year())), leaf("tt:Month", itoa(int(t.Month()))), leaf("tt:Day", itoa(t.Day()))),
	)
}

func (c *call) getSystemDateAndTime() (node, error) {
	now := c.s.cameraNow()
	return el("tds:GetSystemDateAndTimeResponse",
		el("tds:SystemDateAndTime",
			leaf("tt:DateTimeType", "Manual"),
			leaf("tt:DaylightSavings", "false"),
			el("tt:TimeZone", leaf("tt:TZ", "UTC0")),
			dateTimeNode("tt:UTCDateTime", now),
			dateTimeNode("tt:LocalDateTime", now),
		)), nil
}

func (c *call) getWsdlURL() (node, error) {
	return el("tds:GetWsdlUrlResponse", leaf("tds:WsdlUrl", "http://www.onvif.org/Documents/Specifications.aspx")), nil
}

func (c *call) getEndpointReference() (node, error) {
	return el("tds:GetEndpointReferenceResponse", leaf("tds:GUID", c.s.endpoint)), nil
}

func (c *call) getDeviceInformation() (node, error) {
	o := c.s.o
	return el("tds:GetDeviceInformationResponse",
		leaf("tds:Manufacturer", o.Manufacturer),
		leaf("tds:Model", o.Model),
		leaf("tds:FirmwareVersion", o.Firmware),
		leaf("tds:SerialNumber", o.Serial),
		leaf("tds:HardwareId", o.Model),
	), nil
}

func deviceCapabilities() node {
	return el("tds:Capabilities",
		el("tds:Network").attr("IPFilter", "false").attr("ZeroConfiguration", "false").
			attr("IPVersion6", "false").attr("DynDNS", "false"),
		el("tds:Security").attr("TLS1.1", "false").attr("TLS1.2", "false").
			attr("OnboardKeyGeneration", "false").attr("AccessPolicyConfig", "false").
			attr("X.509Token", "false").attr("SAMLToken", "false").attr("KerberosToken", "false").
			attr("RELToken", "false").attr("UsernameToken", "true").attr("HttpDigest", "false"),
		el("tds:System").attr("DiscoveryResolve", "false").attr("DiscoveryBye", "false").
			attr("RemoteDiscovery", "false").attr("SystemBackup", "false").attr("SystemLogging", "false").
			attr("FirmwareUpgrade", "false"),
	)
}

func (c *call) deviceServiceCapabilities() (node, error) {
	return el("tds:GetServiceCapabilitiesResponse", deviceCapabilities()), nil
}

// service is one entry of GetServices.
type service struct {
	namespace, path string
	capabilities    func(*Server) node
}

func (s *Server) services() []service {
	list := []service{
		{onvif.NSDevice, devicePath, func(*Server) node { return deviceCapabilities() }},
		{onvif.NSMedia, mediaPath, (*Server).mediaCapabilities},
		{onvif.NSEvents, eventsPath, func(*Server) node { return eventCapabilities() }},
	}
	if s.ptz != nil {
		list = append(list, service{onvif.NSPTZ, ptzPath, func(*Server) node { return ptzCapabilities() }})
	}
	return list
}

func (c *call) getServices() (node, error) {
	include, err := boolArg(c.op, "IncludeCapability", false)
	if err != nil {
		return node{}, err
	}
	resp := el("tds:GetServicesResponse")
	for _, sv := range c.s.services() {
		e := el("tds:Service", leaf("tds:Namespace", sv.namespace), leaf("tds:XAddr", c.s.base+sv.path))
		if include {
			e = e.add(el("tds:Capabilities", sv.capabilities(c.s)))
		}
		e = e.add(el("tds:Version", leaf("tt:Major", itoa(onvifMajor)), leaf("tt:Minor", itoa(onvifMinor))))
		resp = resp.add(e)
	}
	return resp, nil
}

// getCapabilities answers the pre-GetServices way: the categories asked
// (All when none), each with its XAddr. A category this camera lacks is
// a fault, as the spec wants.
func (c *call) getCapabilities() (node, error) {
	want := map[string]bool{}
	for _, cat := range c.op.children("Category") {
		want[cat.text()] = true
	}
	all := len(want) == 0 || want["All"]
	for cat := range want {
		switch cat {
		case "All", "Device", "Events", "Media":
		case "PTZ":
			if c.s.ptz == nil {
				return node{}, receiverFault("no PTZ service", "ter:ActionNotSupported", "ter:NoSuchService")
			}
		default:
			return node{}, receiverFault("no "+cat+" service", "ter:ActionNotSupported", "ter:NoSuchService")
		}
	}
	base := c.s.base
	caps := el("tds:Capabilities")
	if all || want["Device"] {
		caps = caps.add(el("tt:Device",
			leaf("tt:XAddr", base+devicePath),
			el("tt:Network", leaf("tt:IPFilter", "false"), leaf("tt:ZeroConfiguration", "false"),
				leaf("tt:IPVersion6", "false"), leaf("tt:DynDNS", "false")),
			el("tt:System", leaf("tt:DiscoveryResolve", "false"), leaf("tt:DiscoveryBye", "false"),
				leaf("tt:RemoteDiscovery", "false"), leaf("tt:SystemBackup", "false"),
				leaf("tt:SystemLogging", "false"), leaf("tt:FirmwareUpgrade", "false"),
				el("tt:SupportedVersions", leaf("tt:Major", itoa(onvifMajor)), leaf("tt:Minor", itoa(onvifMinor)))),
			el("tt:IO", leaf("tt:InputConnectors", "0"), leaf("tt:RelayOutputs", "0")),
			el("tt:Security", leaf("tt:TLS1.1", "false"), leaf("tt:TLS1.2", "false"),
				leaf("tt:OnboardKeyGeneration", "false"), leaf("tt:AccessPolicyConfig", "false"),
				leaf("tt:X.509Token", "false"), leaf("tt:SAMLToken", "false"),
				leaf("tt:KerberosToken", "false"), leaf("tt:RELToken", "false")),
		))
	}
	if all || want["Events"] {
		caps = caps.add(el("tt:Events",
			leaf("tt:XAddr", base+eventsPath),
			leaf("tt:WSSubscriptionPolicySupport", "false"),
			leaf("tt:WSPullPointSupport", "true"),
			leaf("tt:WSPausableSubscriptionManagerInterfaceSupport", "false"),
		))
	}
	if all || want["Media"] {
		caps = caps.add(el("tt:Media",
			leaf("tt:XAddr", base+mediaPath),
			el("tt:StreamingCapabilities", leaf("tt:RTPMulticast", "false"), leaf("tt:RTP_TCP", "true"),
				leaf("tt:RTP_RTSP_TCP", "true")),
		))
	}
	if c.s.ptz != nil && (all || want["PTZ"]) {
		caps = caps.add(el("tt:PTZ", leaf("tt:XAddr", base+ptzPath)))
	}
	return el("tds:GetCapabilitiesResponse", caps), nil
}

// scopes are the device's fixed scopes, in GetScopes and discovery.
func (s *Server) scopes() []string {
	const p = "onvif://www.onvif.org/"
	list := []string{p + "type/video_encoder", p + "Profile/Streaming"}
	if s.ptz != nil {
		list = append(list, p+"type/ptz")
	}
	return append(list,
		p+"hardware/"+scopeValue(s.o.Model),
		p+"name/"+scopeValue(s.o.Manufacturer),
		p+"location/argus",
	)
}

// scopeValue makes a name usable as a scope path segment (scopes are
// whitespace-separated URIs).
func scopeValue(v string) string { return url.PathEscape(strings.TrimSpace(v)) }

func (c *call) getScopes() (node, error) {
	resp := el("tds:GetScopesResponse")
	for _, sc := range c.s.scopes() {
		resp = resp.add(el("tds:Scopes", leaf("tt:ScopeDef", "Fixed"), leaf("tt:ScopeItem", sc)))
	}
	return resp, nil
}

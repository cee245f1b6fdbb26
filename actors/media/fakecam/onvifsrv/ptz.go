package onvifsrv

// The one PTZ node and configuration, shared by every profile.
const (
	ptzNodeToken   = "PTZNode_1"
	ptzConfigToken = "PTZConfig_1"
)

// ONVIF's generic PTZ spaces, the only ones this head knows.
const (
	spacePanTiltPosition    = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
	spaceZoomPosition       = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
	spacePanTiltTranslation = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace"
	spaceZoomTranslation    = "http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace"
	spacePanTiltVelocity    = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace"
	spaceZoomVelocity       = "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace"
	spacePanTiltSpeed       = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/GenericSpeedSpace"
	spaceZoomSpeed          = "http://www.onvif.org/ver10/tptz/ZoomSpaces/ZoomGenericSpeedSpace"
)

// ptzOps are the PTZ service (ver20 PTZ WSDL): one head for every profile.
var ptzOps = map[string]operation{
	"GetServiceCapabilities":  {preAuth: true, handle: (*call).ptzServiceCapabilities},
	"GetNodes":                {handle: (*call).getNodes},
	"GetNode":                 {handle: (*call).getNode},
	"GetConfigurations":       {handle: (*call).getPTZConfigurations},
	"GetConfiguration":        {handle: (*call).getPTZConfiguration},
	"GetConfigurationOptions": {handle: (*call).getPTZConfigurationOptions},
	"GetStatus":               {handle: (*call).getStatus},
	"ContinuousMove":          {handle: (*call).continuousMove},
	"AbsoluteMove":            {handle: (*call).absoluteMove},
	"RelativeMove":            {handle: (*call).relativeMove},
	"Stop":                    {handle: (*call).stop},
	"GotoHomePosition":        {handle: (*call).gotoHomePosition},
	"SetHomePosition":         {handle: (*call).setHomePosition},
	"GetPresets":              {handle: (*call).getPresets},
	"SetPreset":               {handle: (*call).setPreset},
	"GotoPreset":              {handle: (*call).gotoPreset},
	"RemovePreset":            {handle: (*call).removePreset},
}

func ptzCapabilities() node {
	return el("tptz:Capabilities").attr("EFlip", "false").attr("Reverse", "false").
		attr("GetCompatibleConfigurations", "false").attr("MoveStatus", "true").attr("StatusPosition", "true")
}

func (c *call) ptzServiceCapabilities() (node, error) {
	return el("tptz:GetServiceCapabilitiesResponse", ptzCapabilities()), nil
}

// Descriptions: node, configuration, options.

func rangeNode(name string, lo, hi float64) node {
	return el(name, leaf("tt:Min", ftoa(lo)), leaf("tt:Max", ftoa(hi)))
}

func space2D(name, uri string, lo, hi float64) node {
	return el(name, leaf("tt:URI", uri), rangeNode("tt:XRange", lo, hi), rangeNode("tt:YRange", lo, hi))
}

func space1D(name, uri string, lo, hi float64) node {
	return el(name, leaf("tt:URI", uri), rangeNode("tt:XRange", lo, hi))
}

func ptzSpaces(name string) node {
	return el(name,
		space2D("tt:AbsolutePanTiltPositionSpace", spacePanTiltPosition, -1, 1),
		space1D("tt:AbsoluteZoomPositionSpace", spaceZoomPosition, 0, 1),
		space2D("tt:RelativePanTiltTranslationSpace", spacePanTiltTranslation, -1, 1),
		space1D("tt:RelativeZoomTranslationSpace", spaceZoomTranslation, -1, 1),
		space2D("tt:ContinuousPanTiltVelocitySpace", spacePanTiltVelocity, -1, 1),
		space1D("tt:ContinuousZoomVelocitySpace", spaceZoomVelocity, -1, 1),
		space1D("tt:PanTiltSpeedSpace", spacePanTiltSpeed, 0, 1),
		space1D("tt:ZoomSpeedSpace", spaceZoomSpeed, 0, 1),
	)
}

func ptzNode(name string) node {
	return el(name,
		leaf("tt:Name", "PTZ"),
		ptzSpaces("tt:SupportedPTZSpaces"),
		leaf("tt:MaximumNumberOfPresets", itoa(maxPresets)),
		leaf("tt:HomeSupported", "true"),
	).attr("token", ptzNodeToken).attr("FixedHomePosition", "false")
}

// ptzConfiguration is the one configuration, used by every profile.
func (s *Server) ptzConfiguration(name string) node {
	return el(name,
		leaf("tt:Name", "PTZ"),
		leaf("tt:UseCount", itoa(len(s.chans))),
		leaf("tt:NodeToken", ptzNodeToken),
		leaf("tt:DefaultAbsolutePantTiltPositionSpace", spacePanTiltPosition), // sic: ONVIF's schema spells it so
		leaf("tt:DefaultAbsoluteZoomPositionSpace", spaceZoomPosition),
		leaf("tt:DefaultRelativePanTiltTranslationSpace", spacePanTiltTranslation),
		leaf("tt:DefaultRelativeZoomTranslationSpace", spaceZoomTranslation),
		leaf("tt:DefaultContinuousPanTiltVelocitySpace", spacePanTiltVelocity),
		leaf("tt:DefaultContinuousZoomVelocitySpace", spaceZoomVelocity),
		el("tt:DefaultPTZSpeed",
			el("tt:PanTilt").attr("x", "1").attr("y", "1").attr("space", spacePanTiltSpeed),
			el("tt:Zoom").attr("x", "1").attr("space", spaceZoomSpeed)),
		leaf("tt:DefaultPTZTimeout", xsDuration(defaultPTZTimeout)),
		el("tt:PanTiltLimits", space2D("tt:Range", spacePanTiltPosition, -1, 1)),
		el("tt:ZoomLimits", space1D("tt:Range", spaceZoomPosition, 0, 1)),
	).attr("token", ptzConfigToken)
}

func (c *call) getNodes() (node, error) {
	return el("tptz:GetNodesResponse", ptzNode("tptz:PTZNode")), nil
}

func (c *call) getNode() (node, error) {
	if tok := c.op.child("NodeToken").text(); tok != ptzNodeToken {
		return node{}, faultInvalidArgVal("ter:NoEntity", "no PTZ node "+quoteToken(tok))
	}
	return el("tptz:GetNodeResponse", ptzNode("tptz:PTZNode")), nil
}

func (c *call) getPTZConfigurations() (node, error) {
	return el("tptz:GetConfigurationsResponse", c.s.ptzConfiguration("tptz:PTZConfiguration")), nil
}

func (c *call) configurationArg() error {
	tok := c.op.child("PTZConfigurationToken").text()
	if tok == "" {
		tok = c.op.child("ConfigurationToken").text()
	}
	if tok != ptzConfigToken {
		return faultInvalidArgVal("ter:NoConfig", "no PTZ configuration "+quoteToken(tok))
	}
	return nil
}

func (c *call) getPTZConfiguration() (node, error) {
	if err := c.configurationArg(); err != nil {
		return node{}, err
	}
	return el("tptz:GetConfigurationResponse", c.s.ptzConfiguration("tptz:PTZConfiguration")), nil
}

func (c *call) getPTZConfigurationOptions() (node, error) {
	if err := c.configurationArg(); err != nil {
		return node{}, err
	}
	return el("tptz:GetConfigurationOptionsResponse",
		el("tptz:PTZConfigurationOptions",
			ptzSpaces("tt:Spaces"),
			el("tt:PTZTimeout", leaf("tt:Min", xsDuration(minPTZTimeout)), leaf("tt:Max", xsDuration(maxPTZTimeout))),
		)), nil
}

// Status.

func moveStatus(moving bool) string {
	if moving {
		return "MOVING"
	}
	return "IDLE"
}

func positionNode(name string, p vec) node {
	return el(name,
		el("tt:PanTilt").attr("x", ftoa(p.pan)).attr("y", ftoa(p.tilt)).attr("space", spacePanTiltPosition),
		el("tt:Zoom").attr("x", ftoa(p.zoom)).attr("space", spaceZoomPosition),
	)
}

func (c *call) getStatus() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	pos, pt, z := c.s.ptz.status()
	return el("tptz:GetStatusResponse",
		el("tptz:PTZStatus",
			positionNode("tt:Position", pos),
			el("tt:MoveStatus", leaf("tt:PanTilt", moveStatus(pt)), leaf("tt:Zoom", moveStatus(z))),
			leaf("tt:UtcTime", xsDateTime(c.s.cameraNow())),
		)), nil
}

// Position is where the PTZ head points, as seen from profile: the zero
// state when profile is unknown or the camera has no PTZ.
func (s *Server) Position(profile string) PTZState {
	if s.ptz == nil || s.byToken[profile] == nil {
		return PTZState{}
	}
	return s.ptz.state()
}

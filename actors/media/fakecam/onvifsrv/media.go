package onvifsrv

// mediaOps are the media service (ver10 media WSDL).
var mediaOps = map[string]operation{
	"GetServiceCapabilities":        {preAuth: true, handle: (*call).mediaServiceCapabilities},
	"GetProfiles":                   {handle: (*call).getProfiles},
	"GetProfile":                    {handle: (*call).getProfile},
	"GetVideoSources":               {handle: (*call).getVideoSources},
	"GetVideoSourceConfigurations":  {handle: (*call).getVideoSourceConfigurations},
	"GetVideoEncoderConfigurations": {handle: (*call).getVideoEncoderConfigurations},
	"GetStreamUri":                  {handle: (*call).getStreamURI},
	"GetSnapshotUri":                {handle: (*call).getSnapshotURI},
}

func (s *Server) mediaCapabilities() node {
	return el("trt:Capabilities",
		el("trt:ProfileCapabilities").attr("MaximumNumberOfProfiles", itoa(len(s.chans))),
		el("trt:StreamingCapabilities").attr("RTPMulticast", "false").attr("RTP_TCP", "true").
			attr("RTP_RTSP_TCP", "true").attr("NonAggregateControl", "false"),
	).attr("SnapshotUri", "true").attr("Rotation", "false")
}

func (c *call) mediaServiceCapabilities() (node, error) {
	return el("trt:GetServiceCapabilitiesResponse", c.s.mediaCapabilities()), nil
}

func sourceConfigurationNode(name string, ch *channel) node {
	return el(name,
		leaf("tt:Name", ch.sourceConfToken),
		leaf("tt:UseCount", "1"),
		leaf("tt:SourceToken", ch.sourceToken),
		el("tt:Bounds").attr("x", "0").attr("y", "0").attr("width", itoa(ch.Width)).attr("height", itoa(ch.Height)),
	).attr("token", ch.sourceConfToken)
}

// encoderConfigurationNode describes what fakecam streams: H264 Main (or
// H265) at the profile's size, rate and bitrate, one IDR a second.
func encoderConfigurationNode(name string, ch *channel) node {
	// The ver10 schema has an H264 element and none for H265: an H265
	// configuration goes without (node{} is not written).
	var h264 node
	if ch.Encoding == "H264" {
		h264 = el("tt:H264", leaf("tt:GovLength", itoa(ch.FPS)), leaf("tt:H264Profile", "Main"))
	}
	return el(name,
		leaf("tt:Name", ch.encoderToken),
		leaf("tt:UseCount", "1"),
		leaf("tt:Encoding", ch.Encoding),
		el("tt:Resolution", leaf("tt:Width", itoa(ch.Width)), leaf("tt:Height", itoa(ch.Height))),
		leaf("tt:Quality", "5"),
		el("tt:RateControl",
			leaf("tt:FrameRateLimit", itoa(ch.FPS)),
			leaf("tt:EncodingInterval", "1"),
			leaf("tt:BitrateLimit", itoa(ch.Bitrate/1000))), // kbit/s
		h264,
		el("tt:Multicast",
			el("tt:Address", leaf("tt:Type", "IPv4"), leaf("tt:IPv4Address", "0.0.0.0")),
			leaf("tt:Port", "0"), leaf("tt:TTL", "1"), leaf("tt:AutoStart", "false")),
		leaf("tt:SessionTimeout", "PT60S"),
	).attr("token", ch.encoderToken)
}

func (s *Server) profileNode(name string, ch *channel) node {
	p := el(name,
		leaf("tt:Name", ch.Name),
		sourceConfigurationNode("tt:VideoSourceConfiguration", ch),
		encoderConfigurationNode("tt:VideoEncoderConfiguration", ch),
	).attr("token", ch.Token).attr("fixed", "true")
	if s.ptz != nil {
		p = p.add(s.ptzConfiguration("tt:PTZConfiguration"))
	}
	return p
}

func (c *call) getProfiles() (node, error) {
	resp := el("trt:GetProfilesResponse")
	for _, ch := range c.s.chans {
		resp = resp.add(c.s.profileNode("trt:Profiles", ch))
	}
	return resp, nil
}

func (c *call) getProfile() (node, error) {
	ch, err := c.profileArg()
	if err != nil {
		return node{}, err
	}
	return el("trt:GetProfileResponse", c.s.profileNode("trt:Profile", ch)), nil
}

func (c *call) getVideoSources() (node, error) {
	resp := el("trt:GetVideoSourcesResponse")
	for _, ch := range c.s.chans {
		resp = resp.add(el("trt:VideoSources",
			leaf("tt:Framerate", itoa(ch.FPS)),
			el("tt:Resolution", leaf("tt:Width", itoa(ch.Width)), leaf("tt:Height", itoa(ch.Height))),
		).attr("token", ch.sourceToken))
	}
	return resp, nil
}

func (c *call) getVideoSourceConfigurations() (node, error) {
	resp := el("trt:GetVideoSourceConfigurationsResponse")
	for _, ch := range c.s.chans {
		resp = resp.add(sourceConfigurationNode("trt:Configurations", ch))
	}
	return resp, nil
}

func (c *call) getVideoEncoderConfigurations() (node, error) {
	resp := el("trt:GetVideoEncoderConfigurationsResponse")
	for _, ch := range c.s.chans {
		resp = resp.add(encoderConfigurationNode("trt:Configurations", ch))
	}
	return resp, nil
}

func mediaURINode(name, uri string) node {
	return el(name,
		leaf("tt:Uri", uri),
		leaf("tt:InvalidAfterConnect", "false"),
		leaf("tt:InvalidAfterReboot", "false"),
		leaf("tt:Timeout", "PT0S"),
	)
}

// getStreamURI answers RTP unicast over RTSP (UDP or interleaved TCP, both
// of which fakecam serves); multicast and HTTP tunnelling are refused.
func (c *call) getStreamURI() (node, error) {
	ch, err := c.profileArg()
	if err != nil {
		return node{}, err
	}
	setup := c.op.child("StreamSetup")
	if stream := setup.child("Stream").text(); stream != "" && stream != "RTP-Unicast" {
		return node{}, faultInvalidArgVal("ter:InvalidStreamSetup", "stream type "+quoteToken(stream)+" is not supported (RTP-Unicast only)")
	}
	switch proto := setup.child("Transport").child("Protocol").text(); proto {
	case "", "RTSP", "UDP", "TCP":
	default:
		return node{}, faultInvalidArgVal("ter:InvalidStreamSetup", "transport "+quoteToken(proto)+" is not supported (RTSP, UDP)")
	}
	return el("trt:GetStreamUriResponse", mediaURINode("trt:MediaUri", ch.StreamURI)), nil
}

func (c *call) getSnapshotURI() (node, error) {
	ch, err := c.profileArg()
	if err != nil {
		return node{}, err
	}
	return el("trt:GetSnapshotUriResponse", mediaURINode("trt:MediaUri", c.s.snapshotURL(ch))), nil
}

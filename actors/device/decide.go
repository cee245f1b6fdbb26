package device

import (
	"fmt"
	"github.com/argus-vms/argus/actors/media/camurl"
	"maps"
	"net/url"
	"regexp"
	"slices"

	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events/pb"
)

// Limits of a device's fields, checked here (the aggregate is the authority)
// and at the gateway (for early, precise 400s).
const (
	MaxNameLen    = 200
	MaxChannels   = 64
	MaxLabels     = 64
	MaxLabelValue = 255
)

var labelKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$`)

// Rejection is a decision that produced no event (aggregate.Rejection).
type Rejection = aggregate.Rejection

func invalid(field, format string, a ...any) *Rejection {
	return &Rejection{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: field, Detail: fmt.Sprintf(format, a...)}
}

// CheckURL accepts rtsp:// and rtsps:// URLs with a host and no credentials.
func CheckURL(raw string) *Rejection {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return invalid("url", "url must be an rtsp:// or rtsps:// URL with a host")
	}
	if c := camurl.Split(u); c.HasUser || c.HasPassword {
		return invalid("url", "url must not carry credentials; use username and password")
	}
	return nil
}

// CheckLabels validates a complete label set.
func CheckLabels(labels map[string]string) *Rejection {
	if len(labels) > MaxLabels {
		return invalid("labels", "at most %d labels", MaxLabels)
	}
	for k, v := range labels {
		if !labelKey.MatchString(k) {
			return invalid("labels", "label key %q must match %s", k, labelKey)
		}
		if len(v) > MaxLabelValue {
			return invalid("labels."+k, "label value longer than %d bytes", MaxLabelValue)
		}
	}
	return nil
}

func checkName(n string) *Rejection {
	if n == "" || len(n) > MaxNameLen {
		return invalid("name", "name is required, at most %d bytes", MaxNameLen)
	}
	return nil
}

func checkChannels(c uint32) *Rejection {
	if c < 1 || c > MaxChannels {
		return invalid("channels", "channels must be 1..%d", MaxChannels)
	}
	return nil
}

func checkVersion(s *State, meta *pb.CommandMeta) *Rejection {
	if meta != nil && meta.ExpectedVersion != nil && *meta.ExpectedVersion != s.Version {
		return &Rejection{Code: pb.ReplyCode_REPLY_CODE_PRECONDITION_FAILED, Field: "If-Match",
			Detail: fmt.Sprintf("device is at version %d, not %d", s.Version, *meta.ExpectedVersion)}
	}
	return nil
}

var notFound = &Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "device not found"}

// Seal turns a password into its sealed form for the log.
type Seal func(password string) []byte

// DecideRegister decides a RegisterDevice against the state.
func DecideRegister(s *State, c *pb.RegisterDevice, seal Seal) (*pb.DeviceRegistered, *Rejection) {
	if s.Registered {
		return nil, &Rejection{Code: pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS, Field: "id", Detail: fmt.Sprintf("device %q already exists", c.Id)}
	}
	channels := c.Channels
	if channels == 0 {
		channels = max(1, uint32(len(c.Sources)))
	}
	// An ONVIF camera may come without a URL: its channels' stream URIs are
	// its sources.
	urlCheck := CheckURL(c.Url)
	if c.Url == "" && c.Onvif != "" {
		urlCheck = nil
	}
	for _, r := range []*Rejection{checkName(c.Name), urlCheck, CheckOnvif(c.Onvif, c.Sources), checkChannels(channels), CheckLabels(c.Labels)} {
		if r != nil {
			return nil, r
		}
	}
	return &pb.DeviceRegistered{
		Name: c.Name, Url: c.Url, Username: c.Username, SealedPassword: seal(c.Password),
		Channels: channels, Labels: c.Labels, Onvif: c.Onvif, Sources: c.Sources, Info: c.Info,
	}, nil
}

// CheckOnvif validates an ONVIF address and the sources read from it: an
// http(s) URL without credentials; every stream URL an rtsp(s) URL
// without credentials (they are pulled with the device's), at most
// MaxChannels of them.
func CheckOnvif(raw string, sources []*pb.ChannelSource) *Rejection {
	if raw == "" {
		if len(sources) > 0 {
			return invalid("onvif", "sources come only with an ONVIF address")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("onvif", "onvif must be an http:// or https:// URL of the device service")
	}
	if c := camurl.Split(u); c.HasUser || c.HasPassword {
		return invalid("onvif", "onvif must not carry credentials; use username and password")
	}
	if len(sources) == 0 || len(sources) > MaxChannels {
		return invalid("onvif", "the camera described %d video sources; 1..%d are supported", len(sources), MaxChannels)
	}
	for _, s := range sources {
		if s.GetStreamUrl() == "" {
			continue // a source without a stream: its channel has no live view
		}
		if r := CheckURL(s.GetStreamUrl()); r != nil {
			return invalid("onvif", "the camera gave a stream URI that is not a plain rtsp:// URL")
		}
	}
	return nil
}

// DecideUpdate decides an UpdateDevice: one event, or none when nothing
// changes. Credentials alone → DeviceCredentialsChanged; anything else →
// DeviceUpdated (carrying the credentials too when they change with it).
func DecideUpdate(s *State, c *pb.UpdateDevice, seal Seal) (*pb.Envelope, *Rejection) {
	upd, creds, rej := decideUpdate(s, c, seal)
	switch {
	case rej != nil:
		return nil, rej
	case upd != nil:
		upd.Credentials = creds
		return &pb.Envelope{Payload: &pb.Envelope_DeviceUpdated{DeviceUpdated: upd}}, nil
	case creds != nil:
		return &pb.Envelope{Payload: &pb.Envelope_DeviceCredentialsChanged{DeviceCredentialsChanged: creds}}, nil
	}
	return nil, nil
}

func decideUpdate(s *State, c *pb.UpdateDevice, seal Seal) (*pb.DeviceUpdated, *pb.DeviceCredentialsChanged, *Rejection) {
	if !s.Registered {
		return nil, nil, notFound
	}
	if r := checkVersion(s, c.Meta); r != nil {
		return nil, nil, r
	}
	var upd pb.DeviceUpdated
	changed := false
	if c.Name != nil && *c.Name != s.Name {
		if r := checkName(*c.Name); r != nil {
			return nil, nil, r
		}
		upd.Name, changed = c.Name, true
	}
	if c.Url != nil && *c.Url != s.URL {
		if r := CheckURL(*c.Url); r != nil {
			return nil, nil, r
		}
		// The stored password goes to the camera it was given for: a URL
		// to another host, port or scheme must come with credentials of
		// its own (or null ones), or the old password would be sent there.
		if len(s.SealedPassword) > 0 && c.Password == nil && camurl.Authority(*c.Url) != camurl.Authority(s.URL) {
			return nil, nil, invalid("password", "the url now points at another host, port or scheme: give its username and password (null clears them); the stored password is only ever sent to the camera it was given for")
		}
		upd.Url, changed = c.Url, true
	}
	if c.Channels != nil && *c.Channels != s.Channels {
		if r := checkChannels(*c.Channels); r != nil {
			return nil, nil, r
		}
		upd.Channels, changed = c.Channels, true
	}
	if c.Labels != nil {
		next := maps.Clone(s.Labels)
		if next == nil {
			next = map[string]string{}
		}
		for _, k := range c.Labels.Remove {
			delete(next, k)
		}
		maps.Copy(next, c.Labels.Set)
		if !maps.Equal(next, s.Labels) {
			if r := CheckLabels(next); r != nil {
				return nil, nil, r
			}
			upd.Labels, changed = &pb.LabelSet{Labels: next}, true
		}
	}
	var creds *pb.DeviceCredentialsChanged
	if c.Username != nil || c.Password != nil {
		user := s.Username
		if c.Username != nil {
			user = *c.Username
		}
		sealed := s.SealedPassword
		if c.Password != nil {
			sealed = seal(*c.Password)
		}
		creds = &pb.DeviceCredentialsChanged{Username: user, SealedPassword: sealed}
	}
	if !changed {
		return nil, creds, nil
	}
	return &upd, creds, nil
}

// DecideRemove decides a RemoveDevice.
func DecideRemove(s *State, c *pb.RemoveDevice) (*pb.DeviceRemoved, *Rejection) {
	if !s.Registered {
		return nil, notFound
	}
	if r := checkVersion(s, c.Meta); r != nil {
		return nil, r
	}
	return &pb.DeviceRemoved{}, nil
}

// DecidePTZ records a PTZ fact of a registered device's channel: exactly
// one of the command's members.
func DecidePTZ(s *State, c *pb.RecordPtz) (*pb.Envelope, *Rejection) {
	if !s.Registered {
		return nil, notFound
	}
	ch := uint32(0)
	var env *pb.Envelope
	n := 0
	if p := c.GetPresetSet(); p != nil {
		n, ch = n+1, p.Channel
		env = &pb.Envelope{Payload: &pb.Envelope_DevicePtzPresetSet{DevicePtzPresetSet: p}}
	}
	if p := c.GetPresetRemoved(); p != nil {
		n, ch = n+1, p.Channel
		env = &pb.Envelope{Payload: &pb.Envelope_DevicePtzPresetRemoved{DevicePtzPresetRemoved: p}}
	}
	if p := c.GetSession(); p != nil {
		n, ch = n+1, p.Channel
		env = &pb.Envelope{Payload: &pb.Envelope_DevicePtzSession{DevicePtzSession: p}}
	}
	if n != 1 {
		return nil, invalid("body", "one PTZ fact at a time")
	}
	if ch < 1 || ch > s.Channels {
		return nil, invalid("channel", "the device has channels 1..%d", s.Channels)
	}
	return env, nil
}

// DecideRefresh records what the camera said when read again: one event
// with the new sources, info and channel count, or none when nothing
// changed.
func DecideRefresh(s *State, c *pb.RefreshOnvif) (*pb.Envelope, *Rejection) {
	if !s.Registered {
		return nil, notFound
	}
	if s.Onvif == "" {
		return nil, &Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "the device has no ONVIF address"}
	}
	if r := CheckOnvif(s.Onvif, c.Sources); r != nil {
		return nil, r
	}
	sources, info := sourcesFromPB(c.Sources), infoFromPB(c.Info)
	channels := max(s.Channels, uint32(len(sources)))
	if slices.Equal(sources, s.Sources) && info == s.Info && channels == s.Channels {
		return nil, nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_DeviceOnvifRefreshed{DeviceOnvifRefreshed: &pb.DeviceOnvifRefreshed{
		Sources: c.Sources, Info: c.Info, Channels: channels}}}, nil
}

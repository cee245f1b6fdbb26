package onvifsrv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Profile is one media profile, and with it one video source (channel) of
// the camera.
type Profile struct {
	// Token is the profile's ReferenceToken, default "profile_<n>" (n from 1).
	Token string
	// Name, default the token.
	Name string
	// StreamURI is what GetStreamUri answers: rtsp://… of fakecam's path.
	// Required.
	StreamURI string
	// Width and Height of the video (and of the snapshot), default 640x360.
	Width, Height int
	// FPS and Bitrate (bits/s) are reported in the encoder configuration,
	// default 25 and 2_000_000 (fakecam's defaults).
	FPS, Bitrate int
	// Encoding is the video codec the encoder configuration reports:
	// "H264" (the default) or "H265" (as cameras streaming H265 report it
	// in the ver10 media service).
	Encoding string
}

// Options configures a Server. Zero values take the defaults noted.
type Options struct {
	// Listen is the HTTP host:port, default "127.0.0.1:0" (see DeviceURL).
	Listen string
	// Username and Password, when Username is set, require a WS-Security
	// UsernameToken (PasswordDigest or PasswordText) on every call except
	// ONVIF's pre-authentication ones (GetSystemDateAndTime, GetWsdlUrl,
	// GetServices, GetServiceCapabilities, GetEndpointReference). A missing
	// or wrong token, a replayed nonce or a Created time more than
	// MaxClockSkew from the camera's clock gets an HTTP 400 fault
	// env:Sender/ter:NotAuthorized.
	Username, Password string
	// Unauthorized401 answers refused calls with HTTP 401 (and the same
	// fault) instead of 400, as some cameras do. No WWW-Authenticate is
	// sent: this camera offers no HTTP authentication to fall back to.
	Unauthorized401 bool
	// Manufacturer, Model, Serial and Firmware of GetDeviceInformation and
	// the discovery scopes; defaults "Argus", "fakecam", a random serial
	// and "1.0". The endpoint reference (urn:uuid) derives from them, so a
	// camera started again with the same Options is the same device.
	Manufacturer, Model, Serial, Firmware string
	// Profiles: at least one. Each is one video source ("VideoSource_<n>").
	Profiles []Profile
	// PTZ gives the camera one pan/tilt/zoom head, shared by all profiles.
	// Without it PTZ calls get env:Receiver/ter:ActionNotSupported/
	// ter:PTZNotSupported.
	PTZ bool
	// ClockOffset is how far the camera's clock is from ours: it shows in
	// GetSystemDateAndTime, event and subscription times, and it is the
	// clock UsernameToken Created times are checked against.
	ClockOffset time.Duration
	// MotionEvery > 0 alternates motion on and off on every video source
	// each period, as RaiseMotion does.
	MotionEvery time.Duration
	// OnView, when set, is told what each profile's picture should show:
	// where the PTZ head points (ONVIF generic spaces: pan and tilt -1..1,
	// zoom 0..1; zeros without PTZ) and whether the profile's video source
	// sees motion. It is called once per profile when the server starts,
	// then whenever that changes: after a PTZ command (settled position),
	// while a continuous move runs, and when motion turns on or off
	// (RaiseMotion, MotionEvery, a Restart clearing it). Calls come from
	// one goroutine, in order, at most about 4 rounds a second (a round
	// calls it for each profile that changed, so a fast sequence of
	// commands may be reported as its last state only). It must return
	// quickly and must not call Close or Restart. fakecam's Camera.SetView
	// is meant to be called from it.
	OnView func(profile string, pan, tilt, zoom float64, motion bool)
	// Discovery answers WS-Discovery probes: unicast on DiscoveryListen
	// (UDP, default "127.0.0.1:0", see DiscoveryAddr) and, with
	// DiscoveryMulticast, on 239.255.255.250:3702 too.
	Discovery          bool
	DiscoveryListen    string
	DiscoveryMulticast bool
	// Log receives the server's events; nil discards them. Passwords are
	// never logged.
	Log *slog.Logger
}

// MaxClockSkew is how far a UsernameToken's Created may be from the
// camera's clock (ClockOffset included): a client that ignores the offset
// GetSystemDateAndTime shows fails once the offset exceeds it.
const MaxClockSkew = time.Minute

// maxProfiles bounds the channels of one camera.
const maxProfiles = 64

func (o *Options) defaults() error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Password != "" && o.Username == "" {
		return errors.New("onvifsrv: Password without Username")
	}
	if o.Manufacturer == "" {
		o.Manufacturer = "Argus"
	}
	if o.Model == "" {
		o.Model = "fakecam"
	}
	if o.Serial == "" {
		var b [5]byte
		_, _ = rand.Read(b[:])
		// A letter first: a serial of digits only reads as a number to
		// some clients (agsh/onvif turns "12345" into 12345).
		o.Serial = "AR" + strings.ToUpper(hex.EncodeToString(b[:]))
	}
	if o.Firmware == "" {
		o.Firmware = "1.0"
	}
	if len(o.Profiles) == 0 {
		return errors.New("onvifsrv: at least one profile is required")
	}
	if len(o.Profiles) > maxProfiles {
		return fmt.Errorf("onvifsrv: %d profiles, at most %d", len(o.Profiles), maxProfiles)
	}
	profiles := make([]Profile, len(o.Profiles))
	seen := map[string]bool{}
	for i, p := range o.Profiles {
		if p.Token == "" {
			p.Token = fmt.Sprintf("profile_%d", i+1)
		}
		if !validToken(p.Token) {
			return fmt.Errorf("onvifsrv: profile token %q: 1 to 64 characters, no spaces or controls", p.Token)
		}
		if seen[p.Token] {
			return fmt.Errorf("onvifsrv: duplicate profile token %q", p.Token)
		}
		seen[p.Token] = true
		if p.Name == "" {
			p.Name = p.Token
		}
		u, err := url.Parse(p.StreamURI)
		if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
			return fmt.Errorf("onvifsrv: profile %q: StreamURI %q is not an rtsp:// URL", p.Token, redactURL(p.StreamURI))
		}
		if p.Width == 0 {
			p.Width = 640
		}
		if p.Height == 0 {
			p.Height = 360
		}
		if p.Width < 16 || p.Height < 16 || p.Width%2 != 0 || p.Height%2 != 0 || p.Width > 7680 || p.Height > 4320 {
			return fmt.Errorf("onvifsrv: profile %q: size %dx%d: width and height must be even, 16..7680 x 16..4320", p.Token, p.Width, p.Height)
		}
		if p.FPS == 0 {
			p.FPS = 25
		}
		if p.Bitrate == 0 {
			p.Bitrate = 2_000_000
		}
		if p.FPS < 1 || p.FPS > 120 || p.Bitrate < 1000 {
			return fmt.Errorf("onvifsrv: profile %q: fps %d or bitrate %d out of range", p.Token, p.FPS, p.Bitrate)
		}
		switch p.Encoding {
		case "":
			p.Encoding = "H264"
		case "H264", "H265":
		default:
			return fmt.Errorf("onvifsrv: profile %q: encoding %q, want H264 or H265", p.Token, p.Encoding)
		}
		profiles[i] = p
	}
	o.Profiles = profiles
	if o.MotionEvery < 0 {
		return errors.New("onvifsrv: negative MotionEvery")
	}
	if o.Discovery && o.DiscoveryListen == "" {
		o.DiscoveryListen = "127.0.0.1:0"
	}
	if o.DiscoveryMulticast && !o.Discovery {
		return errors.New("onvifsrv: DiscoveryMulticast without Discovery")
	}
	return nil
}

// validToken reports whether s can be a ReferenceToken here: ONVIF allows
// 64 characters; spaces and controls would break URLs and QName lists.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// redactURL drops a URL's password for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

package onvif

import (
	"context"
	"errors"
	"strings"
)

// Profile is a media profile: what a stream of the camera is made of.
type Profile struct {
	Token            string
	Name             string
	VideoSourceToken string
	// VideoSourceConfigToken names the profile's source configuration:
	// cameras name their events' sources by it.
	VideoSourceConfigToken string
	Encoding               string // H264, H265, JPEG, MPEG4 as the camera names it
	Width, Height          int
	HasPTZ                 bool // the profile has a PTZ configuration
	PTZConfigToken         string
}

func mediaAction(op string) string { return NSMedia + "/" + op }

type getProfiles struct {
	XMLName struct{} `xml:"http://www.onvif.org/ver10/media/wsdl GetProfiles"`
}

type profilesResponse struct {
	Profiles []struct {
		Token                    string `xml:"token,attr"`
		Name                     string `xml:"Name"`
		VideoSourceConfiguration *struct {
			Token       string `xml:"token,attr"`
			SourceToken string `xml:"SourceToken"`
		} `xml:"VideoSourceConfiguration"`
		VideoEncoderConfiguration *struct {
			Encoding   string `xml:"Encoding"`
			Resolution struct {
				Width  int `xml:"Width"`
				Height int `xml:"Height"`
			} `xml:"Resolution"`
		} `xml:"VideoEncoderConfiguration"`
		PTZConfiguration *struct {
			Token string `xml:"token,attr"`
		} `xml:"PTZConfiguration"`
	} `xml:"Profiles"`
}

// Profiles lists the camera's media profiles.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var out profilesResponse
	r := request{endpoint: c.MediaURL(), action: mediaAction("GetProfiles"), body: getProfiles{}}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	profiles := make([]Profile, 0, len(out.Profiles))
	for _, w := range out.Profiles {
		p := Profile{Token: strings.TrimSpace(w.Token), Name: strings.TrimSpace(w.Name)}
		if v := w.VideoSourceConfiguration; v != nil {
			p.VideoSourceToken = strings.TrimSpace(v.SourceToken)
			p.VideoSourceConfigToken = strings.TrimSpace(v.Token)
		}
		if v := w.VideoEncoderConfiguration; v != nil {
			p.Encoding = strings.TrimSpace(v.Encoding)
			p.Width, p.Height = v.Resolution.Width, v.Resolution.Height
		}
		if z := w.PTZConfiguration; z != nil {
			p.HasPTZ, p.PTZConfigToken = true, strings.TrimSpace(z.Token)
		}
		profiles = append(profiles, p)
	}
	return profiles, nil
}

type getStreamURI struct {
	XMLName     struct{} `xml:"http://www.onvif.org/ver10/media/wsdl GetStreamUri"`
	StreamSetup struct {
		Stream    string `xml:"http://www.onvif.org/ver10/schema Stream"`
		Transport struct {
			Protocol string `xml:"http://www.onvif.org/ver10/schema Protocol"`
		} `xml:"http://www.onvif.org/ver10/schema Transport"`
	} `xml:"StreamSetup"`
	ProfileToken string `xml:"ProfileToken"`
}

type getSnapshotURI struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver10/media/wsdl GetSnapshotUri"`
	ProfileToken string   `xml:"ProfileToken"`
}

type mediaURIResponse struct {
	MediaURI struct {
		URI string `xml:"Uri"`
	} `xml:"MediaUri"`
}

// StreamURI is the profile's RTSP URI (RTP unicast over RTSP).
func (c *Client) StreamURI(ctx context.Context, profileToken string) (string, error) {
	body := getStreamURI{ProfileToken: profileToken}
	body.StreamSetup.Stream = "RTP-Unicast"
	body.StreamSetup.Transport.Protocol = "RTSP"
	return c.mediaURI(ctx, request{endpoint: c.MediaURL(), action: mediaAction("GetStreamUri"), body: body})
}

// SnapshotURI is the profile's JPEG snapshot URI (HTTP).
func (c *Client) SnapshotURI(ctx context.Context, profileToken string) (string, error) {
	body := getSnapshotURI{ProfileToken: profileToken}
	return c.mediaURI(ctx, request{endpoint: c.MediaURL(), action: mediaAction("GetSnapshotUri"), body: body})
}

func (c *Client) mediaURI(ctx context.Context, r request) (string, error) {
	var out mediaURIResponse
	if err := c.call(ctx, r, &out); err != nil {
		return "", err
	}
	uri := resolveMediaURI(c.device, out.MediaURI.URI)
	if uri == "" {
		return "", c.wrap(r, errors.New("the camera answered no URI"))
	}
	return uri, nil
}

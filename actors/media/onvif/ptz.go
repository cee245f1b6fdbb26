package onvif

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Vector is a PTZ position, translation or velocity in ONVIF's generic
// spaces: pan and tilt -1..1; zoom 0..1 as a position, -1..1 otherwise.
type Vector struct{ Pan, Tilt, Zoom float64 }

// PTZStatus is where the camera points and whether it is moving.
type PTZStatus struct {
	Position Vector
	Moving   bool      // pan/tilt or zoom reports MOVING
	UTCTime  time.Time // the camera's clock; zero when not given
}

// Preset is a stored PTZ position.
type Preset struct {
	Token    string
	Name     string
	Position *Vector // nil when the camera does not say
}

func ptzAction(op string) string { return NSPTZ + "/" + op }

// ptzVector is tt:PTZVector on the wire; either part may be absent.
type ptzVector struct {
	PanTilt *vector2D `xml:"http://www.onvif.org/ver10/schema PanTilt"`
	Zoom    *vector1D `xml:"http://www.onvif.org/ver10/schema Zoom"`
}

type vector2D struct {
	X string `xml:"x,attr"`
	Y string `xml:"y,attr"`
}

type vector1D struct {
	X string `xml:"x,attr"`
}

func float(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// wireVector checks v against the generic spaces (zoom from zoomMin) and
// writes it.
func wireVector(v Vector, zoomMin float64) (ptzVector, error) {
	for _, a := range [...]struct {
		name     string
		val, min float64
	}{{"pan", v.Pan, -1}, {"tilt", v.Tilt, -1}, {"zoom", v.Zoom, zoomMin}} {
		if math.IsNaN(a.val) || a.val < a.min || a.val > 1 {
			return ptzVector{}, fmt.Errorf("onvif: %s %v outside %v..1", a.name, a.val, a.min)
		}
	}
	return ptzVector{
		PanTilt: &vector2D{X: float(v.Pan), Y: float(v.Tilt)},
		Zoom:    &vector1D{X: float(v.Zoom)},
	}, nil
}

// value is the vector's value, ok false when it has no part at all.
func (w ptzVector) value() (Vector, bool) {
	var v Vector
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0
		}
		return f
	}
	if w.PanTilt != nil {
		v.Pan, v.Tilt = num(w.PanTilt.X), num(w.PanTilt.Y)
	}
	if w.Zoom != nil {
		v.Zoom = num(w.Zoom.X)
	}
	return v, w.PanTilt != nil || w.Zoom != nil
}

func (c *Client) ptz(ctx context.Context, op string, body any, out any) error {
	return c.call(ctx, request{endpoint: c.PTZURL(), action: ptzAction(op), body: body}, out)
}

type continuousMove struct {
	XMLName      struct{}  `xml:"http://www.onvif.org/ver20/ptz/wsdl ContinuousMove"`
	ProfileToken string    `xml:"ProfileToken"`
	Velocity     ptzVector `xml:"Velocity"`
	Timeout      string    `xml:"Timeout,omitempty"`
}

// ContinuousMove moves at velocity v until Stop, or for timeout when it is
// not 0.
func (c *Client) ContinuousMove(ctx context.Context, profile string, v Vector, timeout time.Duration) error {
	w, err := wireVector(v, -1)
	if err != nil {
		return err
	}
	body := continuousMove{ProfileToken: profile, Velocity: w}
	if timeout > 0 {
		body.Timeout = FormatDuration(timeout)
	}
	return c.ptz(ctx, "ContinuousMove", body, nil)
}

type absoluteMove struct {
	XMLName      struct{}  `xml:"http://www.onvif.org/ver20/ptz/wsdl AbsoluteMove"`
	ProfileToken string    `xml:"ProfileToken"`
	Position     ptzVector `xml:"Position"`
}

// AbsoluteMove goes to pos.
func (c *Client) AbsoluteMove(ctx context.Context, profile string, pos Vector) error {
	w, err := wireVector(pos, 0)
	if err != nil {
		return err
	}
	return c.ptz(ctx, "AbsoluteMove", absoluteMove{ProfileToken: profile, Position: w}, nil)
}

type relativeMove struct {
	XMLName      struct{}  `xml:"http://www.onvif.org/ver20/ptz/wsdl RelativeMove"`
	ProfileToken string    `xml:"ProfileToken"`
	Translation  ptzVector `xml:"Translation"`
}

// RelativeMove moves by delta.
func (c *Client) RelativeMove(ctx context.Context, profile string, delta Vector) error {
	w, err := wireVector(delta, -1)
	if err != nil {
		return err
	}
	return c.ptz(ctx, "RelativeMove", relativeMove{ProfileToken: profile, Translation: w}, nil)
}

type stop struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl Stop"`
	ProfileToken string   `xml:"ProfileToken"`
	PanTilt      bool     `xml:"PanTilt"`
	Zoom         bool     `xml:"Zoom"`
}

// Stop stops pan, tilt and zoom.
func (c *Client) Stop(ctx context.Context, profile string) error {
	return c.ptz(ctx, "Stop", stop{ProfileToken: profile, PanTilt: true, Zoom: true}, nil)
}

type gotoHome struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl GotoHomePosition"`
	ProfileToken string   `xml:"ProfileToken"`
}

// GotoHome goes to the home position.
func (c *Client) GotoHome(ctx context.Context, profile string) error {
	return c.ptz(ctx, "GotoHomePosition", gotoHome{ProfileToken: profile}, nil)
}

type getStatus struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl GetStatus"`
	ProfileToken string   `xml:"ProfileToken"`
}

type statusResponse struct {
	PTZStatus struct {
		Position   ptzVector `xml:"Position"`
		MoveStatus struct {
			// Some cameras write the status as the element's text.
			Text    string `xml:",chardata"`
			PanTilt string `xml:"PanTilt"`
			Zoom    string `xml:"Zoom"`
		} `xml:"MoveStatus"`
		UTCTime string `xml:"UtcTime"`
	} `xml:"PTZStatus"`
}

// PTZStatus reads the position and movement.
func (c *Client) PTZStatus(ctx context.Context, profile string) (PTZStatus, error) {
	var out statusResponse
	if err := c.ptz(ctx, "GetStatus", getStatus{ProfileToken: profile}, &out); err != nil {
		return PTZStatus{}, err
	}
	w := out.PTZStatus
	var s PTZStatus
	s.Position, _ = w.Position.value()
	for _, m := range []string{w.MoveStatus.Text, w.MoveStatus.PanTilt, w.MoveStatus.Zoom} {
		if strings.EqualFold(strings.TrimSpace(m), "MOVING") {
			s.Moving = true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(w.UTCTime)); err == nil {
		s.UTCTime = t
	}
	return s, nil
}

type getPresets struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl GetPresets"`
	ProfileToken string   `xml:"ProfileToken"`
}

type presetsResponse struct {
	Preset []struct {
		Token    string    `xml:"token,attr"`
		Name     string    `xml:"Name"`
		Position ptzVector `xml:"PTZPosition"`
	} `xml:"Preset"`
}

// Presets lists the profile's presets.
func (c *Client) Presets(ctx context.Context, profile string) ([]Preset, error) {
	var out presetsResponse
	if err := c.ptz(ctx, "GetPresets", getPresets{ProfileToken: profile}, &out); err != nil {
		return nil, err
	}
	presets := make([]Preset, 0, len(out.Preset))
	for _, w := range out.Preset {
		p := Preset{Token: strings.TrimSpace(w.Token), Name: strings.TrimSpace(w.Name)}
		if v, ok := w.Position.value(); ok {
			p.Position = &v
		}
		presets = append(presets, p)
	}
	return presets, nil
}

type setPreset struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl SetPreset"`
	ProfileToken string   `xml:"ProfileToken"`
	PresetName   string   `xml:"PresetName,omitempty"`
	PresetToken  string   `xml:"PresetToken,omitempty"`
}

type setPresetResponse struct {
	PresetToken string `xml:"PresetToken"`
}

// SetPreset stores the current position as preset name: a new preset when
// token is "", else over the preset token. It returns the preset's token.
func (c *Client) SetPreset(ctx context.Context, profile, name, token string) (string, error) {
	var out setPresetResponse
	body := setPreset{ProfileToken: profile, PresetName: name, PresetToken: token}
	if err := c.ptz(ctx, "SetPreset", body, &out); err != nil {
		return "", err
	}
	if t := strings.TrimSpace(out.PresetToken); t != "" {
		return t, nil
	}
	return token, nil
}

type gotoPreset struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl GotoPreset"`
	ProfileToken string   `xml:"ProfileToken"`
	PresetToken  string   `xml:"PresetToken"`
}

// GotoPreset goes to a preset.
func (c *Client) GotoPreset(ctx context.Context, profile, token string) error {
	return c.ptz(ctx, "GotoPreset", gotoPreset{ProfileToken: profile, PresetToken: token}, nil)
}

type removePreset struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver20/ptz/wsdl RemovePreset"`
	ProfileToken string   `xml:"ProfileToken"`
	PresetToken  string   `xml:"PresetToken"`
}

// RemovePreset deletes a preset.
func (c *Client) RemovePreset(ctx context.Context, profile, token string) error {
	return c.ptz(ctx, "RemovePreset", removePreset{ProfileToken: profile, PresetToken: token}, nil)
}

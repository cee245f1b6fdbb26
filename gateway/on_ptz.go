package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/onvif"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// Cameras gives the node hosting a device what it needs to talk to the
// camera itself (*shard.Host): device.ErrNotHere on any other node.
type Cameras interface {
	Camera(ctx context.Context, id string) (device.TargetInfo, error)
}

// ptzCamera is one channel's PTZ: a connected ONVIF client and the
// channel's main profile.
type ptzCamera struct {
	client  *onvif.Client
	profile string
}

// ptzFailed is cameraProblem for a camera call that failed: the device's
// client is made again next time.
func (s *Server) ptzFailed(id string, err error) *Problem {
	s.onvifClients.forget(id)
	return cameraProblem(err)
}

// onOwner answers c on the node hosting the device: true when this node
// passed the request on (or could not), so the caller stops.
func (s *Server) onOwner(c echo.Context, id string) (bool, error) {
	o, remote := s.remoteOwner(id)
	if !remote {
		return false, nil
	}
	if c.Request().Header.Get(forwardedHeader) != "" {
		return true, unavailable("the device is moving to another node; retry")
	}
	for _, n := range s.peerNodes() {
		if n.ID == o.Node {
			return true, s.proxyTo(c, n)
		}
	}
	return true, unavailable("the node hosting this device is unknown; retry")
}

// cameraOf is what the node hosting device id (this one, after onOwner)
// needs to talk to its camera; ch > 0 must be one of its channels.
func (s *Server) cameraOf(c echo.Context, id string, ch int) (device.TargetInfo, *Problem) {
	if s.cameras == nil {
		return device.TargetInfo{}, unavailable("camera control is not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	t, err := s.cameras.Camera(ctx, id)
	switch {
	case errors.Is(err, device.ErrNotHere):
		return t, unavailable("the device is moving to another node; retry")
	case err != nil:
		return t, unavailable("the device did not answer; retry")
	case !t.Found:
		return t, problem(http.StatusNotFound, "", "no such device")
	case ch > t.Channels:
		return t, problem(http.StatusNotFound, "ch", "the device has channels 1..%d", t.Channels)
	}
	return t, nil
}

// ptzOf connects to the PTZ of a device's channel on the node hosting it.
// A device without ONVIF PTZ on that channel is 409.
func (s *Server) ptzOf(c echo.Context, id string, ch int) (*ptzCamera, *Problem) {
	t, p := s.cameraOf(c, id, ch)
	switch {
	case p != nil:
		return nil, p
	case t.Onvif == "" || ch > len(t.Sources) || !t.Sources[ch-1].PTZ:
		return nil, problem(http.StatusConflict, "", "channel %d of this device has no PTZ (it needs an ONVIF camera with PTZ)", ch)
	}
	cctx, ccancel := context.WithTimeout(c.Request().Context(), onvifTimeout)
	defer ccancel()
	cl, err := s.onvifClients.get(cctx, id, t)
	if err != nil {
		return nil, cameraProblem(err)
	}
	return &ptzCamera{client: cl, profile: t.Sources[ch-1].Profile}, nil
}

// onvifClientTTL is how long a connected client (its clock offset and
// service addresses) is reused for a device's commands.
const onvifClientTTL = 5 * time.Minute

// onvifClients keeps one connected ONVIF client per device hosted here,
// so a PTZ command costs one round trip to the camera, not three. A
// client is made again when the device's address or credentials changed,
// after onvifClientTTL, or after it failed.
type onvifClients struct {
	mu sync.Mutex
	m  map[string]onvifClient
}

type onvifClient struct {
	client  *onvif.Client
	for_    [3]string // onvif address, username, password it was made with
	expires time.Time
}

func (oc *onvifClients) get(ctx context.Context, id string, t device.TargetInfo) (*onvif.Client, error) {
	want := [3]string{t.Onvif, t.Username, t.Password}
	oc.mu.Lock()
	e, ok := oc.m[id]
	oc.mu.Unlock()
	if ok && e.for_ == want && time.Now().Before(e.expires) {
		return e.client, nil
	}
	cl, err := onvif.New(t.Onvif, onvif.Options{Username: t.Username, Password: t.Password})
	if err != nil {
		return nil, err
	}
	if err := cl.Connect(ctx); err != nil {
		return nil, err
	}
	oc.mu.Lock()
	if oc.m == nil {
		oc.m = map[string]onvifClient{}
	}
	oc.m[id] = onvifClient{client: cl, for_: want, expires: time.Now().Add(onvifClientTTL)}
	oc.mu.Unlock()
	return cl, nil
}

// forget drops a device's client after a call failed: the camera may have
// rebooted (new clock, new addresses).
func (oc *onvifClients) forget(id string) {
	oc.mu.Lock()
	delete(oc.m, id)
	oc.mu.Unlock()
}

type ptzVector struct {
	Pan  *float64 `json:"pan"`
	Tilt *float64 `json:"tilt"`
	Zoom *float64 `json:"zoom"`
}

type ptzContinuous struct {
	Pan       *float64 `json:"pan"`
	Tilt      *float64 `json:"tilt"`
	Zoom      *float64 `json:"zoom"`
	TimeoutMS *int64   `json:"timeout_ms"`
}

type ptzRequest struct {
	Continuous *ptzContinuous `json:"continuous"`
	Absolute   *ptzVector     `json:"absolute"`
	Relative   *ptzVector     `json:"relative"`
	Stop       *bool          `json:"stop"`
	Home       *bool          `json:"home"`
	Preset     *string        `json:"preset"`
}

// vector checks a move's members: pan and tilt in lo..1, zoom in zlo..1
// (ONVIF's generic spaces), absent = 0.
func (v ptzVector) vector(field string, lo, zlo float64) (onvif.Vector, *Problem) {
	get := func(name string, p *float64, lo float64) (float64, *Problem) {
		if p == nil {
			return 0, nil
		}
		if math.IsNaN(*p) || *p < lo || *p > 1 {
			return 0, badRequest(field+"."+name, "%s must be %g..1", name, lo)
		}
		return *p, nil
	}
	var out onvif.Vector
	var p *Problem
	if out.Pan, p = get("pan", v.Pan, lo); p != nil {
		return out, p
	}
	if out.Tilt, p = get("tilt", v.Tilt, lo); p != nil {
		return out, p
	}
	out.Zoom, p = get("zoom", v.Zoom, zlo)
	return out, p
}

// POST /v1/devices/{id}/channels/{ch}/ptz with one of continuous, absolute,
// relative, stop, home or preset (a name) → 204 once the camera took it.
func (s *Server) ptzCommand(c echo.Context) error {
	if _, _, p := channelPath(c); p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req ptzRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	n := 0
	for _, set := range []bool{req.Continuous != nil, req.Absolute != nil, req.Relative != nil, req.Stop != nil, req.Home != nil, req.Preset != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return badRequest("body", "one of continuous, absolute, relative, stop, home or preset")
	}
	// Check everything before a camera is asked.
	var move func(ctx context.Context, cam *ptzCamera) error
	switch {
	case req.Continuous != nil:
		v, p := ptzVector{req.Continuous.Pan, req.Continuous.Tilt, req.Continuous.Zoom}.vector("continuous", -1, -1)
		if p != nil {
			return p
		}
		timeout := time.Second
		if t := req.Continuous.TimeoutMS; t != nil {
			if *t < 100 || *t > 60000 {
				return badRequest("continuous.timeout_ms", "timeout_ms must be 100..60000")
			}
			timeout = time.Duration(*t) * time.Millisecond
		}
		move = func(ctx context.Context, cam *ptzCamera) error {
			return cam.client.ContinuousMove(ctx, cam.profile, v, timeout)
		}
	case req.Absolute != nil:
		v, p := req.Absolute.vector("absolute", -1, 0)
		if p != nil {
			return p
		}
		move = func(ctx context.Context, cam *ptzCamera) error { return cam.client.AbsoluteMove(ctx, cam.profile, v) }
	case req.Relative != nil:
		v, p := req.Relative.vector("relative", -1, -1)
		if p != nil {
			return p
		}
		move = func(ctx context.Context, cam *ptzCamera) error { return cam.client.RelativeMove(ctx, cam.profile, v) }
	case req.Stop != nil:
		if !*req.Stop {
			return badRequest("stop", "stop must be true")
		}
		move = func(ctx context.Context, cam *ptzCamera) error { return cam.client.Stop(ctx, cam.profile) }
	case req.Home != nil:
		if !*req.Home {
			return badRequest("home", "home must be true")
		}
		move = func(ctx context.Context, cam *ptzCamera) error { return cam.client.GotoHome(ctx, cam.profile) }
	case req.Preset != nil:
		if p := checkPresetName(*req.Preset, "preset"); p != nil {
			return p
		}
		name := *req.Preset
		move = func(ctx context.Context, cam *ptzCamera) error {
			token, err := cam.presetToken(ctx, name)
			if err != nil {
				return err
			}
			if token == "" {
				return errNoPreset
			}
			return cam.client.GotoPreset(ctx, cam.profile, token)
		}
	}
	return s.onPTZ(c, func(ctx context.Context, id string, ch int, cam *ptzCamera) error {
		if err := move(ctx, cam); err != nil {
			if errors.Is(err, errNoPreset) {
				return problem(http.StatusNotFound, "preset", "the camera has no preset named %q", *req.Preset)
			}
			return s.ptzFailed(id, err)
		}
		s.ptz.moved(id, ch, callerID(c))
		return c.NoContent(http.StatusNoContent)
	})
}

var errNoPreset = errors.New("no such preset")

// presetToken is the camera's token of the preset called name ("" when none).
func (cam *ptzCamera) presetToken(ctx context.Context, name string) (string, error) {
	ps, err := cam.client.Presets(ctx, cam.profile)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Name == name {
			return p.Token, nil
		}
	}
	return "", nil
}

// checkPresetName: 1..64 characters, no control characters.
func checkPresetName(name, field string) *Problem {
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) || containsControl(name) {
		return badRequest(field, "a preset name is 1..64 characters without control characters")
	}
	return nil
}

func containsControl(s string) bool {
	for _, r := range s {
		if isControl(r) {
			return true
		}
	}
	return false
}

type ptzPosition struct {
	Pan  float64 `json:"pan"`
	Tilt float64 `json:"tilt"`
	Zoom float64 `json:"zoom"`
}

// GET /v1/devices/{id}/channels/{ch}/ptz → the camera's position and
// whether it moves.
func (s *Server) ptzStatus(c echo.Context) error {
	return s.onPTZ(c, func(ctx context.Context, id string, _ int, cam *ptzCamera) error {
		st, err := cam.client.PTZStatus(ctx, cam.profile)
		if err != nil {
			return s.ptzFailed(id, err)
		}
		out := map[string]any{"position": ptzPosition{Pan: st.Position.Pan, Tilt: st.Position.Tilt, Zoom: st.Position.Zoom}, "moving": st.Moving}
		if !st.UTCTime.IsZero() {
			out["time"] = formatTime(st.UTCTime)
		}
		return writeJSON(c, http.StatusOK, out)
	})
}

// onPTZ runs fn with the channel's PTZ, on the node hosting the device
// (another node passes the request on).
func (s *Server) onPTZ(c echo.Context, fn func(ctx context.Context, id string, ch int, cam *ptzCamera) error) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	if done, err := s.onOwner(c, id); done {
		return err
	}
	cam, p := s.ptzOf(c, id, ch)
	if p != nil {
		return p
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), onvifTimeout)
	defer cancel()
	return fn(ctx, id, ch, cam)
}

type presetJSON struct {
	Name     string       `json:"name"`
	Token    string       `json:"token"`
	Position *ptzPosition `json:"position,omitempty"`
}

// GET /v1/devices/{id}/channels/{ch}/ptz/presets → the camera's presets.
func (s *Server) ptzPresets(c echo.Context) error {
	return s.onPTZ(c, func(ctx context.Context, id string, _ int, cam *ptzCamera) error {
		ps, err := cam.client.Presets(ctx, cam.profile)
		if err != nil {
			return s.ptzFailed(id, err)
		}
		items := make([]presetJSON, 0, len(ps))
		for _, p := range ps {
			it := presetJSON{Name: p.Name, Token: p.Token}
			if p.Position != nil {
				it.Position = &ptzPosition{Pan: p.Position.Pan, Tilt: p.Position.Tilt, Zoom: p.Position.Zoom}
			}
			items = append(items, it)
		}
		return writeJSON(c, http.StatusOK, map[string]any{"items": items})
	})
}

// PUT /v1/devices/{id}/channels/{ch}/ptz/presets/{name} → the preset is
// (re)set at the camera's current position; recorded as an event.
func (s *Server) ptzSetPreset(c echo.Context) error {
	return s.ptzPresetChange(c, true)
}

// DELETE /v1/devices/{id}/channels/{ch}/ptz/presets/{name} → 204; recorded
// as an event.
func (s *Server) ptzRemovePreset(c echo.Context) error {
	return s.ptzPresetChange(c, false)
}

func (s *Server) ptzPresetChange(c echo.Context, set bool) error {
	name := c.Param("name")
	if p := checkPresetName(name, "name"); p != nil {
		return p
	}
	return s.onPTZ(c, func(ctx context.Context, id string, ch int, cam *ptzCamera) error {
		token, err := cam.presetToken(ctx, name)
		if err != nil {
			return s.ptzFailed(id, err)
		}
		cmd := &pb.RecordPtz{Meta: meta(c), Id: id}
		if set {
			if token, err = cam.client.SetPreset(ctx, cam.profile, name, token); err != nil {
				return s.ptzFailed(id, err)
			}
			cmd.PresetSet = &pb.DevicePtzPresetSet{Channel: uint32(ch), Name: name, Token: token, KeyId: callerID(c)}
		} else {
			if token == "" {
				return problem(http.StatusNotFound, "name", "the camera has no preset named %q", name)
			}
			if err := cam.client.RemovePreset(ctx, cam.profile, token); err != nil {
				return s.ptzFailed(id, err)
			}
			cmd.PresetRemoved = &pb.DevicePtzPresetRemoved{Channel: uint32(ch), Name: name, Token: token, KeyId: callerID(c)}
		}
		// The camera changed: the fact is recorded (a failure here is the
		// caller's to retry; setting a preset again is harmless).
		r, err := s.ask(c, id, cmd)
		if err != nil {
			return err
		}
		if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			return s.replyProblem(r)
		}
		if !set {
			return c.NoContent(http.StatusNoContent)
		}
		return writeJSON(c, http.StatusOK, presetJSON{Name: name, Token: token})
	})
}

package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/onvif"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// onvifTimeout bounds reading one camera over ONVIF (several calls).
var onvifTimeout = 15 * time.Second

// readCamera is the one way the gateway reads a camera over ONVIF (adding
// and refreshing a device): its info and one source per video source (the
// largest profile the main stream, a second one the sub stream). A camera
// that cannot be read is a 502 naming what it answered.
func (s *Server) readCamera(c echo.Context, address, username, password string) (*pb.OnvifInfo, []*pb.ChannelSource, *Problem) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), onvifTimeout)
	defer cancel()
	inv, err := onvif.ReadInventory(ctx, address, onvif.Options{Username: username, Password: password})
	if err != nil {
		s.log.Info("onvif read failed", "request_id", requestID(c), "onvif", address, "err", err)
		return nil, nil, cameraProblem(err)
	}
	info := &pb.OnvifInfo{Manufacturer: inv.Info.Manufacturer, Model: inv.Info.Model, Firmware: inv.Info.FirmwareVersion,
		Serial: inv.Info.SerialNumber, Hardware: inv.Info.HardwareID}
	var sources []*pb.ChannelSource
	for _, ch := range inv.Channels {
		sources = append(sources, &pb.ChannelSource{VideoSource: ch.VideoSource, SourceConfig: ch.SourceConfig, Profile: ch.Profile,
			StreamUrl: ch.StreamURI, SubProfile: ch.SubProfile, SubStreamUrl: ch.SubStreamURI, SnapshotUrl: ch.SnapshotURI,
			Ptz: ch.PTZ, Width: uint32(ch.Width), Height: uint32(ch.Height)})
	}
	if len(sources) == 0 {
		return nil, nil, problem(http.StatusBadGateway, "onvif", "the camera describes no video source")
	}
	return info, sources, nil
}

// POST /v1/devices/{id}/onvif/refresh → the device as the camera now
// describes it (a device.onvif_refreshed event when that changed), read by
// the node hosting the device with the device's own credentials.
func (s *Server) refreshOnvif(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	if done, err := s.onOwner(c, id); done {
		return err
	}
	t, p := s.cameraOf(c, id, 0)
	if p != nil {
		return p
	}
	if t.Onvif == "" {
		return problem(http.StatusConflict, "", "the device has no ONVIF address")
	}
	info, sources, p := s.readCamera(c, t.Onvif, t.Username, t.Password)
	if p != nil {
		return p
	}
	r, err := s.ask(c, id, &pb.RefreshOnvif{Meta: meta(c), Id: id, Sources: sources, Info: info})
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	return s.answerDevice(c, http.StatusOK, r)
}

// cameraProblem is the 502 for a camera that did not answer as asked:
// what it said (its SOAP fault, a refused login, not ONVIF) or why it could
// not be reached. The password is never part of it.
func cameraProblem(err error) *Problem {
	var fault *onvif.Fault
	var nerr net.Error
	switch {
	case errors.Is(err, onvif.ErrUnauthorized):
		return problem(http.StatusBadGateway, "password", "the camera refused the username and password")
	case errors.As(err, &fault):
		return problem(http.StatusBadGateway, "onvif", "the camera answered with a fault: %s", fault.Error())
	case errors.Is(err, onvif.ErrNotONVIF):
		return problem(http.StatusBadGateway, "onvif", "the address does not answer as an ONVIF device service")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return problem(http.StatusBadGateway, "onvif", "the camera did not answer in time")
	}
	return problem(http.StatusBadGateway, "onvif", "the camera could not be reached: %s", onvif.Describe(err))
}

type discoveryRequest struct {
	TimeoutMS *int64   `json:"timeout_ms"`
	Interface *string  `json:"interface"`
	Targets   []string `json:"targets"`
}

type discoveryCandidate struct {
	Address      string   `json:"address"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	Name         string   `json:"name"`
	Hardware     string   `json:"hardware"`
	Serial       string   `json:"serial"`
	Scopes       []string `json:"scopes"`
	AlreadyAdded bool     `json:"already_added"`
}

// maxDiscoveryTargets bounds the unicast probes of one discovery.
const maxDiscoveryTargets = 1024

// POST /v1/discovery {"timeout_ms"?, "interface"?, "targets"?} → the ONVIF
// devices that answered a WS-Discovery probe (multicast on the interface,
// or unicast to the targets), each marked when a device already has that
// address.
func (s *Server) discover(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req discoveryRequest
	if len(b) > 0 {
		if p := decodeStrict(b, &req); p != nil {
			return p
		}
	}
	o := onvif.ProbeOptions{Timeout: 2 * time.Second}
	if req.TimeoutMS != nil {
		if *req.TimeoutMS < 100 || *req.TimeoutMS > 30000 {
			return badRequest("timeout_ms", "timeout_ms must be 100..30000")
		}
		o.Timeout = time.Duration(*req.TimeoutMS) * time.Millisecond
	}
	if req.Interface != nil {
		if _, err := net.InterfaceByName(*req.Interface); err != nil {
			return badRequest("interface", "no network interface named %q", *req.Interface)
		}
		o.Interface = *req.Interface
	}
	if len(req.Targets) > maxDiscoveryTargets {
		return badRequest("targets", "at most %d targets", maxDiscoveryTargets)
	}
	for i, t := range req.Targets {
		if _, port, err := net.SplitHostPort(t); err != nil || port == "" {
			return badRequest("targets["+strconv.Itoa(i)+"]", "a target is host:port")
		}
	}
	o.Targets = req.Targets
	ctx, cancel := context.WithTimeout(c.Request().Context(), o.Timeout+5*time.Second)
	defer cancel()
	found, err := onvif.Probe(ctx, o)
	if err != nil {
		return problem(http.StatusBadGateway, "", "the discovery probe failed: %s", onvif.Describe(err))
	}
	known, err := s.onvifAddresses(c)
	if err != nil {
		return err
	}
	out := make([]discoveryCandidate, 0, len(found))
	for _, f := range found {
		scopes := f.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		added := slices.ContainsFunc(f.XAddrs, func(a string) bool { return known[strings.TrimSuffix(a, "/")] })
		out = append(out, discoveryCandidate{Address: f.Address, Manufacturer: f.Manufacturer, Model: f.Model, Name: f.Name,
			Hardware: f.Hardware, Scopes: scopes, AlreadyAdded: added})
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": out})
}

// onvifAddresses are the ONVIF addresses of every device in the cluster.
func (s *Server) onvifAddresses(c echo.Context) (map[string]bool, error) {
	if s.devices == nil {
		return nil, unavailable("the device service is not running on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	out := map[string]bool{}
	for cursor := ""; ; {
		items, next, err := s.devices.List(ctx, maxPageLimit, &pb.ListDevices{Cursor: cursor})
		if err != nil {
			return nil, unavailable("the device list is unavailable; retry")
		}
		for _, d := range items {
			if d.GetOnvif() != "" {
				out[strings.TrimSuffix(d.GetOnvif(), "/")] = true
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

package gateway

import (
	"net/http"

	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// motionJSON is a channel's motion detection settings.
type motionJSON struct {
	Enabled       bool         `json:"enabled"`
	Sensitivity   float64      `json:"sensitivity"`
	Zones         [][4]float64 `json:"zones"`
	MinDurationMS uint32       `json:"min_duration_ms"`
	CooldownMS    uint32       `json:"cooldown_ms"`
	AlarmType     string       `json:"alarm_type"`
}

func motionView(m *pb.DeviceMotionSet) motionJSON {
	out := motionJSON{Zones: [][4]float64{}, AlarmType: device.MotionType}
	if m == nil {
		return out
	}
	out.Enabled, out.Sensitivity, out.MinDurationMS, out.CooldownMS = m.Enabled, m.Sensitivity, m.MinDurationMs, m.CooldownMs
	for _, z := range m.Zones {
		out.Zones = append(out.Zones, [4]float64{z.X, z.Y, z.W, z.H})
	}
	return out
}

type motionRequest struct {
	Enabled       *bool         `json:"enabled"`
	Sensitivity   *float64      `json:"sensitivity"`
	Zones         *[][4]float64 `json:"zones"`
	MinDurationMS *int64        `json:"min_duration_ms"`
	CooldownMS    *int64        `json:"cooldown_ms"`
}

// PUT /v1/devices/{id}/channels/{ch}/motion (operator): Argus's motion
// detection on the channel, raising "video_motion" alarms while enabled.
func (s *Server) putMotion(c echo.Context) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req motionRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	if req.Enabled == nil {
		return badRequest("enabled", "enabled is required")
	}
	set := &pb.DeviceMotionSet{Channel: uint32(ch), Enabled: *req.Enabled}
	if req.Sensitivity != nil {
		set.Sensitivity = *req.Sensitivity
	}
	if req.Zones != nil {
		for _, z := range *req.Zones {
			set.Zones = append(set.Zones, &pb.MotionZone{X: z[0], Y: z[1], W: z[2], H: z[3]})
		}
	}
	var p2 *Problem
	if set.MinDurationMs, p2 = bounded(req.MinDurationMS, "min_duration_ms", 0, 60_000); p2 != nil {
		return p2
	}
	if set.CooldownMs, p2 = bounded(req.CooldownMS, "cooldown_ms", 0, 600_000); p2 != nil {
		return p2
	}
	if field, err := device.MotionConfig(set).Validate(); err != nil {
		return badRequest(field, "%v", err)
	}
	r, err := s.ask(c, id, &pb.SetMotion{Meta: meta(c), Id: id, Motion: set})
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	return writeJSON(c, http.StatusOK, motionView(motionOf(r.GetDevice(), ch)))
}

// GET /v1/devices/{id}/channels/{ch}/motion
func (s *Server) getMotion(c echo.Context) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	r, err := s.ask(c, id, &pb.GetDevice{Id: id})
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	if d := r.GetDevice(); ch > int(d.GetChannels()) {
		return problem(http.StatusNotFound, "ch", "the device has channels 1..%d", d.GetChannels())
	}
	return writeJSON(c, http.StatusOK, motionView(motionOf(r.GetDevice(), ch)))
}

func motionOf(d *pb.DeviceView, ch int) *pb.DeviceMotionSet {
	for _, m := range d.GetMotion() {
		if int(m.Channel) == ch {
			return m
		}
	}
	return nil
}

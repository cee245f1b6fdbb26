package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
)

// Plans is the recording side: plan commands routed to the channel's plan actor.
type Plans interface {
	AskPlan(ctx context.Context, deviceID string, channel int, cmd proto.Message) (*pb.PlanReply, error)
}

type planWindowJSON struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

type planRequest struct {
	Mode           string           `json:"mode"`
	Schedule       []planWindowJSON `json:"schedule"`
	Timezone       string           `json:"timezone"`
	SegmentSeconds *int64           `json:"segment_seconds"`
	RetentionDays  *int64           `json:"retention_days"`
	Event          *eventRequest    `json:"event"`
	Audio          *bool            `json:"audio"`
}

// eventRequest is how an event plan records.
type eventRequest struct {
	PreRollSeconds  *int64   `json:"pre_roll_seconds"`
	PostRollSeconds *int64   `json:"post_roll_seconds"`
	Triggers        []string `json:"triggers"`
}

type eventJSON struct {
	PreRollSeconds  int      `json:"pre_roll_seconds"`
	PostRollSeconds int      `json:"post_roll_seconds"`
	Triggers        []string `json:"triggers"`
}

type planJSON struct {
	Device         string           `json:"device"`
	Channel        int              `json:"channel"`
	Mode           string           `json:"mode"`
	Schedule       []planWindowJSON `json:"schedule"`
	Timezone       string           `json:"timezone"`
	SegmentSeconds int              `json:"segment_seconds"`
	RetentionDays  int              `json:"retention_days"`
	Recording      bool             `json:"recording"`
	NextChange     *string          `json:"next_change"`
	Version        uint64           `json:"version"`
	Event          *eventJSON       `json:"event,omitempty"`
	Audio          bool             `json:"audio"`
}

func planView(v *pb.PlanView) planJSON {
	out := planJSON{Device: v.GetDevice(), Channel: int(v.GetChannel()), Mode: v.GetMode(), Schedule: []planWindowJSON{},
		Timezone: v.GetTimezone(), SegmentSeconds: int(v.GetSegmentSeconds()), RetentionDays: int(v.GetRetentionDays()),
		Recording: v.GetRecording(), Version: v.GetVersion(), Audio: !v.GetVideoOnly()}
	for _, w := range v.GetSchedule() {
		out.Schedule = append(out.Schedule, planWindowJSON{Days: w.GetDays(), Start: w.GetStart(), End: w.GetEnd()})
	}
	if e := v.GetEvent(); e != nil {
		out.Event = &eventJSON{PreRollSeconds: int(e.PreRollSeconds), PostRollSeconds: int(e.PostRollSeconds), Triggers: append([]string{}, e.Triggers...)}
	}
	if ms := v.GetNextChangeUnixMs(); ms > 0 {
		t := formatTime(time.UnixMilli(ms))
		out.NextChange = &t
	}
	return out
}

// bounded turns an optional JSON integer into a uint32 in lo..hi (0 = default).
func bounded(v *int64, field string, lo, hi int64) (uint32, *Problem) {
	if v == nil {
		return 0, nil
	}
	if *v < lo || *v > hi {
		return 0, badRequest(field, "%s must be %d..%d", field, lo, hi)
	}
	return uint32(*v), nil
}

func (s *Server) askPlan(c echo.Context, id string, ch int, cmd proto.Message) (*pb.PlanReply, error) {
	if s.plans == nil {
		return nil, unavailable("recording is not configured on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.plans.AskPlan(ctx, id, ch, cmd)
	if err != nil || r == nil {
		s.log.Warn("plan command unanswered", "request_id", requestID(c), "device", id, "channel", ch, "err", err)
		return nil, unavailable("the plan's actor did not answer; retry")
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return nil, s.replyProblem(r)
	}
	return r, nil
}

// PUT /v1/devices/{id}/channels/{ch}/plan
func (s *Server) putPlan(c echo.Context) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	version, hasVersion, p := parseIfMatch(c.Request().Header)
	if p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req planRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	if req.Mode == "" {
		return badRequest("mode", "mode is required: continuous, schedule, event or off")
	}
	cmd := &pb.SetPlan{Meta: meta(c), Device: id, Channel: uint32(ch), Mode: req.Mode, Timezone: req.Timezone,
		VideoOnly: req.Audio != nil && !*req.Audio}
	if cmd.SegmentSeconds, p = bounded(req.SegmentSeconds, "segment_seconds", 10, 3600); p != nil {
		return p
	}
	if cmd.RetentionDays, p = bounded(req.RetentionDays, "retention_days", 1, 3650); p != nil {
		return p
	}
	for _, w := range req.Schedule {
		cmd.Schedule = append(cmd.Schedule, &pb.PlanWindow{Days: w.Days, Start: w.Start, End: w.End})
	}
	if e := req.Event; e != nil {
		ev := &pb.EventRecording{Triggers: e.Triggers, PreRollSeconds: 5, PostRollSeconds: 10}
		if e.PreRollSeconds != nil {
			if *e.PreRollSeconds < 0 || *e.PreRollSeconds > 30 {
				return badRequest("event.pre_roll_seconds", "pre_roll_seconds must be 0..30")
			}
			ev.PreRollSeconds = uint32(*e.PreRollSeconds)
		}
		if e.PostRollSeconds != nil {
			if *e.PostRollSeconds < 0 || *e.PostRollSeconds > 300 {
				return badRequest("event.post_roll_seconds", "post_roll_seconds must be 0..300")
			}
			ev.PostRollSeconds = uint32(*e.PostRollSeconds)
		}
		cmd.Event = ev
	}
	if hasVersion {
		cmd.Meta.ExpectedVersion = &version
	}
	r, err := s.askPlan(c, id, ch, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+strconv.FormatUint(r.GetPlan().GetVersion(), 10)+`"`)
	return writeJSON(c, http.StatusOK, planView(r.GetPlan()))
}

// GET /v1/devices/{id}/channels/{ch}/plan
func (s *Server) getPlan(c echo.Context) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	r, err := s.askPlan(c, id, ch, &pb.GetPlan{Device: id, Channel: uint32(ch)})
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+strconv.FormatUint(r.GetPlan().GetVersion(), 10)+`"`)
	return writeJSON(c, http.StatusOK, planView(r.GetPlan()))
}

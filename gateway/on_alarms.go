package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/projections"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
)

// Alarms is the alarm side of the node (*shard.Host): commands to the
// slots' actors, and the open alarms they hold cluster-wide.
type Alarms interface {
	AskAlarm(ctx context.Context, cmd proto.Message) (*pb.AlarmReply, error)
	ListAlarms(ctx context.Context, q *pb.ListAlarms) ([]*pb.AlarmView, error)
}

// AlarmHistory is the alarm history in ClickHouse (projections.Service).
type AlarmHistory interface {
	Alarms(ctx context.Context, q projections.AlarmQuery) ([]*pb.AlarmView, error)
	AlarmStats(ctx context.Context, from, to time.Time, groupBy string) ([]projections.AlarmsItem, error)
}

// alarmJSON is an alarm as the API shows it.
type alarmJSON struct {
	ID          string     `json:"id"`
	Device      string     `json:"device"`
	Channel     uint32     `json:"channel"`
	Type        string     `json:"type"`
	Source      string     `json:"source"`
	Severity    string     `json:"severity"`
	Message     string     `json:"message"`
	State       string     `json:"state"`
	Active      bool       `json:"active"`
	Count       uint32     `json:"count"`
	RaisedAt    time.Time  `json:"raised_at"`
	LastAt      time.Time  `json:"last_at"`
	EndedAt     *time.Time `json:"ended_at"`
	RaisedBy    string     `json:"raised_by,omitempty"`
	AckedBy     string     `json:"acked_by,omitempty"`
	AckedAt     *time.Time `json:"acked_at"`
	Note        string     `json:"note,omitempty"`
	ClearedBy   string     `json:"cleared_by,omitempty"`
	ClearedAt   *time.Time `json:"cleared_at"`
	ClearReason string     `json:"clear_reason,omitempty"`
	SnapshotURL *string    `json:"snapshot_url"`
	Trigger     string     `json:"trigger,omitempty"`
}

func msTime(ms int64) *time.Time {
	if ms <= 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func alarmView(v *pb.AlarmView) alarmJSON {
	a := alarmJSON{ID: v.Id, Device: v.Device, Channel: v.Channel, Type: v.Type, Source: v.Source, Severity: v.Severity,
		Message: v.Message, State: v.State, Active: v.Active, Count: v.Count, RaisedAt: time.UnixMilli(v.RaisedAtUnixMs).UTC(),
		LastAt: time.UnixMilli(v.LastAtUnixMs).UTC(), EndedAt: msTime(v.EndedAtUnixMs), RaisedBy: v.RaisedBy, AckedBy: v.AckedBy,
		AckedAt: msTime(v.AckedAtUnixMs), Note: v.Note, ClearedBy: v.ClearedBy, ClearedAt: msTime(v.ClearedAtUnixMs),
		ClearReason: v.ClearReason, Trigger: v.Trigger}
	if v.SnapshotKey != "" {
		u := "/v1/alarms/" + v.Id + "/snapshot.jpg"
		a.SnapshotURL = &u
	}
	return a
}

func (s *Server) askAlarm(c echo.Context, cmd proto.Message) (*pb.AlarmReply, error) {
	if s.alarms == nil {
		return nil, unavailable("alarms are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.alarms.AskAlarm(ctx, cmd)
	if err != nil || r == nil {
		s.log.Warn("alarm command unanswered", "request_id", requestID(c), "err", err)
		return nil, unavailable("the alarm's actor did not answer; retry")
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return nil, s.replyProblem(r)
	}
	return r, nil
}

type raiseAlarmRequest struct {
	Device   *string `json:"device"`
	Channel  *int64  `json:"channel"`
	Type     *string `json:"type"`
	Severity *string `json:"severity"`
	Message  *string `json:"message"`
}

// POST /v1/alarms (operator): an external system raises an alarm (source
// api) or repeats the open one of its slot: 201 raised, 200 repeated.
func (s *Server) raiseAlarm(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req raiseAlarmRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	cmd := &pb.RaiseAlarm{Meta: meta(c), Source: alarm.SourceAPI}
	if p, ok := principalOf(c); ok {
		cmd.By = p.KeyID
	}
	if req.Device == nil {
		return badRequest("device", "device is required")
	}
	if req.Type == nil {
		return badRequest("type", "type is required")
	}
	cmd.Device, cmd.Type = *req.Device, *req.Type
	if req.Channel != nil {
		if *req.Channel < 0 || *req.Channel > events.MaxChannels {
			return badRequest("channel", "channel must be 0 (the device) or 1..%d", events.MaxChannels)
		}
		cmd.Channel = uint32(*req.Channel)
	}
	if req.Severity != nil {
		cmd.Severity = *req.Severity
	}
	if req.Message != nil {
		cmd.Message = *req.Message
	}
	if rej := alarm.CheckRaise(cmd); rej != nil {
		return badRequest(rej.Field, "%s", rej.Detail)
	}
	r, err := s.askAlarm(c, cmd)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if r.Alarm.GetCount() == 1 {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/v1/alarms/"+r.Alarm.Id)
	}
	return writeJSON(c, status, alarmView(r.Alarm))
}

// alarmPath is the {id} of an alarm route.
func alarmPath(c echo.Context) (string, *Problem) {
	id := c.Param("id")
	if _, _, ok := events.ParseAlarmID(id); !ok {
		return "", badRequest("id", "an alarm id is <device>~<channel>~<type>~<number>")
	}
	return id, nil
}

// GET /v1/alarms/{id}: the newest alarm of its slot from its actor (no
// ClickHouse needed), an older one from the history.
func (s *Server) getAlarm(c echo.Context) error {
	v, p := s.findAlarm(c)
	if p != nil {
		return p
	}
	return writeJSON(c, http.StatusOK, alarmView(v))
}

func (s *Server) findAlarm(c echo.Context) (*pb.AlarmView, *Problem) {
	id, p := alarmPath(c)
	if p != nil {
		return nil, p
	}
	r, err := s.askAlarm(c, &pb.GetAlarm{Id: id})
	if err == nil {
		return r.Alarm, nil
	}
	var prob *Problem
	if !errors.As(err, &prob) || prob.Status != http.StatusConflict {
		return nil, prob
	}
	// An older alarm of its slot (cleared): the history has it.
	h := s.alarmHistory()
	if h == nil {
		return nil, problem(http.StatusNotFound, "", "the alarm is cleared and its history needs ClickHouse")
	}
	ctx, cancel := contextWithTimeout(c, analyticsQueryTimeout)
	defer cancel()
	items, qerr := h.Alarms(ctx, projections.AlarmQuery{ID: id, Limit: 1})
	switch {
	case qerr != nil:
		return nil, unavailable("the alarm history did not answer: ClickHouse is unreachable")
	case len(items) == 0:
		return nil, problem(http.StatusNotFound, "", "no such alarm")
	}
	return items[0], nil
}

type alarmActionRequest struct {
	Note   *string `json:"note"`
	Reason *string `json:"reason"`
}

// POST /v1/alarms/{id}/ack and /clear (operator), bodies optional:
// {"note"} / {"reason"}.
func (s *Server) ackAlarm(c echo.Context) error   { return s.alarmAction(c, false) }
func (s *Server) clearAlarm(c echo.Context) error { return s.alarmAction(c, true) }

func (s *Server) alarmAction(c echo.Context, clear bool) error {
	id, p := alarmPath(c)
	if p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req alarmActionRequest
	if len(strings.TrimSpace(string(b))) > 0 {
		if p := decodeStrict(b, &req); p != nil {
			return p
		}
	}
	by := ""
	if pr, ok := principalOf(c); ok {
		by = pr.KeyID
	}
	var cmd proto.Message
	switch {
	case clear && req.Note != nil:
		return badRequest("note", "a clear takes a reason, not a note")
	case !clear && req.Reason != nil:
		return badRequest("reason", "an acknowledgement takes a note, not a reason")
	case clear:
		cmd = &pb.ClearAlarm{Meta: meta(c), Id: id, By: by, Reason: deref(req.Reason)}
	default:
		cmd = &pb.AckAlarm{Meta: meta(c), Id: id, By: by, Note: deref(req.Note)}
	}
	r, err := s.askAlarm(c, cmd)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, alarmView(r.Alarm))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// alarmStates are the values of the list's state filter.
var alarmStates = []string{"open", alarm.Raised, alarm.Acknowledged, alarm.Cleared}

// GET /v1/alarms?device=&state=&type=&severity=&from=&to=&limit=&cursor=:
// open alarms (state open, raised or acknowledged, without a time range)
// come from the actors and need no ClickHouse; the rest from the history.
// Newest raise first.
func (s *Server) listAlarms(c echo.Context) error {
	q := c.QueryParams()
	for k, vs := range q {
		if len(vs) > 1 {
			return badRequest(k, "%s may be given once", k)
		}
	}
	limit := defaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return badRequest("limit", "limit must be an integer between 1 and %d", maxPageLimit)
		}
		limit = n
	}
	hq := projections.AlarmQuery{Device: q.Get("device"), Type: q.Get("type"), Severity: q.Get("severity"), State: q.Get("state"), Limit: limit + 1}
	if hq.Device != "" && !events.ValidID(hq.Device) {
		return badRequest("device", "device %s", events.IDRule)
	}
	if hq.Type != "" && !events.ValidAlarmType(hq.Type) {
		return badRequest("type", "type %s", events.AlarmTypeRule)
	}
	if hq.Severity != "" && !slices.Contains(alarm.Severities, hq.Severity) {
		return badRequest("severity", "severity must be one of %s", strings.Join(alarm.Severities, ", "))
	}
	if hq.State != "" && !slices.Contains(alarmStates, hq.State) {
		return badRequest("state", "state must be one of %s", strings.Join(alarmStates, ", "))
	}
	var p *Problem
	if hq.From, p = parseRFC3339(c, "from", time.Time{}); p != nil {
		return p
	}
	if hq.To, p = parseRFC3339(c, "to", time.Time{}); p != nil {
		return p
	}
	if cur := q.Get("cursor"); cur != "" {
		if hq.AfterMS, hq.AfterID, p = parseAlarmCursor(cur); p != nil {
			return p
		}
	}
	var items []*pb.AlarmView
	fromActors := (hq.State == "open" || hq.State == alarm.Raised || hq.State == alarm.Acknowledged) && hq.From.IsZero() && hq.To.IsZero()
	if fromActors {
		if s.alarms == nil {
			return unavailable("alarms are not served by this node")
		}
		ctx, cancel := contextWithTimeout(c, s.timeout)
		defer cancel()
		lq := &pb.ListAlarms{Device: hq.Device, Type: hq.Type, Severity: hq.Severity}
		if hq.State != "open" {
			lq.State = hq.State
		}
		all, err := s.alarms.ListAlarms(ctx, lq)
		if err != nil {
			s.log.Warn("list alarms", "request_id", requestID(c), "err", err)
			return unavailable("the open alarms are unavailable; retry")
		}
		for _, v := range all {
			if hq.AfterID == "" || v.RaisedAtUnixMs < hq.AfterMS || v.RaisedAtUnixMs == hq.AfterMS && v.Id > hq.AfterID {
				items = append(items, v)
			}
		}
		items = items[:min(len(items), hq.Limit)]
	} else {
		h := s.alarmHistory()
		if h == nil {
			return unavailable("the alarm history needs ClickHouse; open alarms (state=open) are served without it")
		}
		ctx, cancel := contextWithTimeout(c, analyticsQueryTimeout)
		defer cancel()
		var err error
		if items, err = h.Alarms(ctx, hq); err != nil {
			return s.queryFailed(c, "alarms", err)
		}
	}
	out := struct {
		Items      []alarmJSON `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}{Items: make([]alarmJSON, 0, len(items))}
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		cur := timeCursor(last.RaisedAtUnixMs, last.Id)
		out.NextCursor = &cur
	}
	for _, v := range items {
		out.Items = append(out.Items, alarmView(v))
	}
	return writeJSON(c, http.StatusOK, out)
}

func parseAlarmCursor(cur string) (int64, string, *Problem) {
	return parseTimeCursor(cur, func(id string) bool { _, _, ok := events.ParseAlarmID(id); return ok })
}

// alarmHistory is the ClickHouse side of alarms (nil: not here).
func (s *Server) alarmHistory() AlarmHistory {
	if s.analytics == nil {
		return nil
	}
	h, _ := s.analytics.(AlarmHistory)
	return h
}

// GET /v1/alarms/{id}/snapshot.jpg (viewer): the picture taken at the raise.
func (s *Server) alarmSnapshot(c echo.Context) error {
	v, p := s.findAlarm(c)
	if p != nil {
		return p
	}
	if v.SnapshotKey == "" || s.pictures == nil {
		return problem(http.StatusNotFound, "", "the alarm has no picture")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	f, size, err := s.pictures.Open(ctx, v.SnapshotKey)
	if errors.Is(err, storage.ErrNotFound) {
		return problem(http.StatusNotFound, "", "the alarm's picture is gone")
	}
	if err != nil {
		return unavailable("the picture storage did not answer; retry")
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "image/jpeg")
	h.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	h.Set(echo.HeaderCacheControl, "private, max-age=86400, immutable")
	return c.Stream(http.StatusOK, "image/jpeg", f)
}

// GET /v1/analytics/alarms?from=&to=&group_by=device|type|hour
func (s *Server) analyticsAlarms(c echo.Context) error {
	return s.analyticsQuery(c, "alarms", func(ctx context.Context, _ AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		h := s.alarmHistory()
		if h == nil {
			return nil, unavailable("alarm analytics are not served by this node"), nil
		}
		groupBy := c.QueryParam("group_by")
		if groupBy == "" {
			groupBy = "type"
		}
		if groupBy != "device" && groupBy != "type" && groupBy != "hour" {
			return nil, badRequest("group_by", "group_by must be device, type or hour"), nil
		}
		items, err := h.AlarmStats(ctx, from, to, groupBy)
		return items, nil, err
	})
}

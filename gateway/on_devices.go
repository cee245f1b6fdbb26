package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
)

const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// meta is the CommandMeta of a command sent on behalf of the request.
func meta(c echo.Context) *pb.CommandMeta {
	return &pb.CommandMeta{CommandId: uuid.NewString(), CorrelationId: requestID(c)}
}

// pathID reads and validates the {id} path parameter: an invalid id is a
// 400 (field "id") and never reaches Devices.
func pathID(c echo.Context) (string, *Problem) {
	id := c.Param("id")
	if strings.Contains(id, "%") {
		u, err := url.PathUnescape(id)
		if err != nil {
			return "", badRequest("id", "invalid device id: %s", events.IDRule)
		}
		id = u
	}
	if p := checkID(id); p != nil {
		return "", p
	}
	return id, nil
}

// ask sends one command to the device's actor. No answer → 503.
func (s *Server) ask(c echo.Context, id string, cmd proto.Message) (*pb.DeviceReply, error) {
	if s.devices == nil {
		return nil, unavailable("the device service is not running on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.devices.Ask(ctx, id, cmd)
	if err != nil || r == nil {
		s.log.Warn("device command unanswered", "request_id", requestID(c), "device", id, "err", err)
		return nil, unavailable("the device's actor did not answer; retry")
	}
	return r, nil
}

// actorReply is what every actor's reply (device, plan, alarm, webhook)
// says when it is not OK.
type actorReply interface {
	GetCode() pb.ReplyCode
	GetField() string
	GetDetail() string
}

// replyProblem maps a non-OK actor reply to its HTTP problem.
func (s *Server) replyProblem(r actorReply) *Problem {
	detail := r.GetDetail()
	or := func(d string) string {
		if detail != "" {
			return detail
		}
		return d
	}
	switch r.GetCode() {
	case pb.ReplyCode_REPLY_CODE_NOT_FOUND:
		return problem(http.StatusNotFound, r.GetField(), "%s", or("no such device"))
	case pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS:
		return problem(http.StatusConflict, "id", "%s", or("a device with this id already exists"))
	case pb.ReplyCode_REPLY_CODE_PRECONDITION_FAILED:
		return problem(http.StatusPreconditionFailed, "If-Match", "%s", or("the device has changed since that version"))
	case pb.ReplyCode_REPLY_CODE_INVALID:
		field := r.GetField()
		if field == "" {
			field = "body"
		}
		return badRequest(field, "%s", or("invalid command"))
	case pb.ReplyCode_REPLY_CODE_CONFLICT:
		return problem(http.StatusConflict, "", "%s", or("a concurrent command changed the device; retry"))
	case pb.ReplyCode_REPLY_CODE_UNAVAILABLE:
		return unavailable("%s", or("the event log is unavailable; retry"))
	case pb.ReplyCode_REPLY_CODE_NOT_OWNER:
		return unavailable("%s", or("the device's shard is moving to another node; retry"))
	}
	s.log.Error("unknown device reply code", "code", r.GetCode().String())
	return problem(http.StatusInternalServerError, "", "internal error")
}

// answerDevice writes an OK reply's device with its ETag.
func (s *Server) answerDevice(c echo.Context, status int, r *pb.DeviceReply) error {
	d := r.GetDevice()
	if d == nil {
		s.log.Error("device reply OK without a device", "request_id", requestID(c))
		return problem(http.StatusInternalServerError, "", "internal error")
	}
	c.Response().Header().Set("ETag", etag(d.GetVersion()))
	return writeJSON(c, status, deviceView(d))
}

type createDeviceRequest struct {
	ID       *string                    `json:"id"`
	Name     *string                    `json:"name"`
	URL      *string                    `json:"url"`
	Onvif    *string                    `json:"onvif"`
	Username *string                    `json:"username"`
	Password *string                    `json:"password"`
	Channels *int64                     `json:"channels"`
	Labels   map[string]json.RawMessage `json:"labels"`
}

// registerCommand validates a create request into a command.
func registerCommand(req *createDeviceRequest) (*pb.RegisterDevice, *Problem) {
	cmd := &pb.RegisterDevice{Channels: 1}
	if req.ID == nil {
		cmd.Id = newDeviceID()
	} else {
		if p := checkID(*req.ID); p != nil {
			return nil, p
		}
		cmd.Id = *req.ID
	}
	if req.Name == nil {
		return nil, badRequest("name", "name is required")
	}
	if p := checkName(*req.Name); p != nil {
		return nil, p
	}
	cmd.Name = *req.Name
	if req.URL == nil && req.Onvif == nil {
		return nil, badRequest("url", "url (an RTSP URL) or onvif (the ONVIF device service URL) is required")
	}
	if req.URL != nil {
		u, p := parseDeviceURL(*req.URL)
		if p != nil {
			return nil, p
		}
		cmd.Url, cmd.Username, cmd.Password = u.URL, u.Username, u.Password
	}
	if req.Onvif != nil {
		o, p := parseOnvifURL(*req.Onvif)
		if p != nil {
			return nil, p
		}
		cmd.Onvif = o.URL
		if o.HasUser && cmd.Username == "" {
			cmd.Username, cmd.Password = o.Username, o.Password
		}
	}
	if req.Username != nil { // explicit fields win over the URL's userinfo
		cmd.Username = *req.Username
	}
	if req.Password != nil {
		cmd.Password = *req.Password
	}
	if p := checkUsername(cmd.Username); p != nil {
		return nil, p
	}
	if p := checkPassword(cmd.Password); p != nil {
		return nil, p
	}
	if req.Channels != nil {
		if p := checkChannels(*req.Channels); p != nil {
			return nil, p
		}
		cmd.Channels = uint32(*req.Channels)
	}
	if len(req.Labels) > 0 {
		cmd.Labels = make(map[string]string, len(req.Labels))
		for _, k := range sortedKeys(req.Labels) {
			var v string
			if isNull(req.Labels[k]) || json.Unmarshal(req.Labels[k], &v) != nil {
				return nil, badRequest(labelField(k), "label value must be a string")
			}
			cmd.Labels[k] = v
		}
		if p := checkLabels(cmd.Labels); p != nil {
			return nil, p
		}
	}
	return cmd, nil
}

// POST /v1/devices → 201 + Location + view.
func (s *Server) createDevice(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req createDeviceRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	cmd, p := registerCommand(&req)
	if p != nil {
		return p
	}
	if cmd.Onvif != "" {
		// The camera is read here, with the credentials of the request,
		// before anything is decided: the event carries what it said.
		var p *Problem
		if cmd.Info, cmd.Sources, p = s.readCamera(c, cmd.Onvif, cmd.Username, cmd.Password); p != nil {
			return p
		}
		if req.Channels == nil {
			cmd.Channels = uint32(len(cmd.Sources))
		}
	}
	cmd.Meta = meta(c)
	r, err := s.ask(c, cmd.Id, cmd)
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/devices/"+cmd.Id)
	return s.answerDevice(c, http.StatusCreated, r)
}

// deviceStatuses are the values of a device's status (and of the list's
// status filter): unknown until the first probe answers.
var deviceStatuses = []string{"online", "offline", "unknown"}

// GET /v1/devices?limit=&cursor=&label=k:v&status=
func (s *Server) listDevices(c echo.Context) error {
	q := c.QueryParams()
	limit := defaultPageLimit
	if vs := q["limit"]; len(vs) > 0 {
		n, err := strconv.Atoi(vs[0])
		if err != nil || n < 1 || n > maxPageLimit || len(vs) > 1 {
			return badRequest("limit", "limit must be an integer between 1 and %d", maxPageLimit)
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(q["cursor"]) > 1 || cursor != "" && !events.ValidID(cursor) {
		return badRequest("cursor", "cursor must be a next_cursor from a previous page")
	}
	var lk, lv string
	if vs := q["label"]; len(vs) > 0 {
		if len(vs) > 1 {
			return badRequest("label", "only one label filter is supported")
		}
		var p *Problem
		if lk, lv, p = parseLabelFilter(vs[0]); p != nil {
			return p
		}
	}
	status := q.Get("status")
	if len(q["status"]) > 1 || status != "" && !slices.Contains(deviceStatuses, status) {
		return badRequest("status", "status must be one of %s", strings.Join(deviceStatuses, ", "))
	}
	if s.devices == nil {
		return unavailable("the device service is not running on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	items, next, err := s.devices.List(ctx, limit, &pb.ListDevices{Cursor: cursor, LabelKey: lk, LabelValue: lv, Status: status})
	if err != nil {
		s.log.Warn("list devices", "request_id", requestID(c), "err", err)
		return unavailable("the device list is unavailable; retry")
	}
	out := struct {
		Items      []deviceJSON `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: make([]deviceJSON, 0, len(items))}
	for _, d := range items {
		out.Items = append(out.Items, deviceView(d))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return writeJSON(c, http.StatusOK, out)
}

// GET /v1/devices/{id}
func (s *Server) getDevice(c echo.Context) error {
	id, p := pathID(c)
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
	if r.GetDevice() == nil || r.GetDevice().GetRemoved() {
		return problem(http.StatusNotFound, "", "no such device")
	}
	return s.answerDevice(c, http.StatusOK, r)
}

// patchFields are the members a device merge patch may hold.
var patchFields = map[string]bool{
	"name": true, "url": true, "username": true, "password": true, "channels": true, "labels": true,
}

var jsonNull = []byte("null")

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), jsonNull) }

// patchString decodes a string member; null is reported separately.
func patchString(raw json.RawMessage, field string) (v string, null bool, p *Problem) {
	if isNull(raw) {
		return "", true, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, badRequest(field, "%s must be a string", field)
	}
	return v, false, nil
}

// updateCommand turns a JSON merge patch (RFC 7396) into an UpdateDevice:
// members absent stay unchanged; username/password null clear them; a
// label set to null is removed. name, url, channels and labels cannot be
// null.
func updateCommand(id string, body []byte) (*pb.UpdateDevice, *Problem) {
	var patch map[string]json.RawMessage
	if p := decodeStrict(body, &patch); p != nil {
		if p.Field != "body" {
			p.Field, p.Detail = "body", "a device patch must be a JSON object"
		}
		return nil, p
	}
	if patch == nil {
		return nil, badRequest("body", "a device patch must be a JSON object")
	}
	for _, k := range sortedKeys(patch) {
		if !patchFields[k] {
			return nil, unknownMember(k)
		}
	}
	cmd := &pb.UpdateDevice{Id: id}
	changed := false
	var userFromURL, passFromURL *string

	if raw, ok := patch["name"]; ok {
		v, null, p := patchString(raw, "name")
		if p != nil {
			return nil, p
		}
		if null {
			return nil, badRequest("name", "name cannot be removed")
		}
		if p := checkName(v); p != nil {
			return nil, p
		}
		cmd.Name, changed = &v, true
	}
	if raw, ok := patch["url"]; ok {
		v, null, p := patchString(raw, "url")
		if p != nil {
			return nil, p
		}
		if null {
			return nil, badRequest("url", "url cannot be removed")
		}
		u, p := parseDeviceURL(v)
		if p != nil {
			return nil, p
		}
		cmd.Url, changed = &u.URL, true
		if u.HasUser {
			userFromURL = &u.Username
		}
		if u.HasPassword {
			passFromURL = &u.Password
		}
	}
	var p *Problem
	if cmd.Username, changed, p = patchCredential(patch, "username", checkUsername, userFromURL, changed); p != nil {
		return nil, p
	}
	if cmd.Password, changed, p = patchCredential(patch, "password", checkPassword, passFromURL, changed); p != nil {
		return nil, p
	}
	if raw, ok := patch["channels"]; ok {
		if isNull(raw) {
			return nil, badRequest("channels", "channels cannot be removed")
		}
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, badRequest("channels", "channels must be an integer between 1 and %d", maxChannels)
		}
		if p := checkChannels(n); p != nil {
			return nil, p
		}
		ch := uint32(n)
		cmd.Channels, changed = &ch, true
	}
	if raw, ok := patch["labels"]; ok {
		lp, p := labelPatch(raw)
		if p != nil {
			return nil, p
		}
		if len(lp.GetSet())+len(lp.GetRemove()) > 0 {
			cmd.Labels, changed = lp, true
		}
	}
	if !changed {
		return nil, badRequest("body", "the patch changes nothing")
	}
	return cmd, nil
}

// labelPatch reads the labels member of a merge patch: key → string sets,
// key → null removes.
func labelPatch(raw json.RawMessage) (*pb.LabelPatch, *Problem) {
	if isNull(raw) {
		return nil, badRequest("labels", "labels cannot be null; set a key to null to remove that label")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badRequest("labels", "labels must be an object of strings")
	}
	if len(m) > 2*maxLabels {
		return nil, badRequest("labels", "too many label changes")
	}
	lp := &pb.LabelPatch{}
	for _, k := range sortedKeys(m) {
		if isNull(m[k]) {
			if !validLabelKey(k) {
				return nil, badRequest(labelField(k), "label key must match %s", labelKeyPattern)
			}
			lp.Remove = append(lp.Remove, k)
			continue
		}
		var v string
		if err := json.Unmarshal(m[k], &v); err != nil {
			return nil, badRequest(labelField(k), "label value must be a string or null")
		}
		if p := checkLabel(k, v); p != nil {
			return nil, p
		}
		if lp.Set == nil {
			lp.Set = map[string]string{}
		}
		lp.Set[k] = v
	}
	if len(lp.Set) > maxLabels {
		return nil, badRequest("labels", "at most %d labels", maxLabels)
	}
	return lp, nil
}

// PATCH /v1/devices/{id} (JSON merge patch, optional If-Match) → 200 + view.
func (s *Server) patchDevice(c echo.Context) error {
	id, p := pathID(c)
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
	cmd, p := updateCommand(id, b)
	if p != nil {
		return p
	}
	cmd.Meta = meta(c)
	if hasVersion {
		cmd.Meta.ExpectedVersion = &version
	}
	r, err := s.ask(c, id, cmd)
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	return s.answerDevice(c, http.StatusOK, r)
}

// DELETE /v1/devices/{id} (optional If-Match) → 204.
func (s *Server) deleteDevice(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	version, hasVersion, p := parseIfMatch(c.Request().Header)
	if p != nil {
		return p
	}
	cmd := &pb.RemoveDevice{Meta: meta(c), Id: id}
	if hasVersion {
		cmd.Meta.ExpectedVersion = &version
	}
	r, err := s.ask(c, id, cmd)
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return s.replyProblem(r)
	}
	return c.NoContent(http.StatusNoContent)
}

// GET /v1/devices/{id}/events?after_seq=&limit= → one page of the device's
// history (its events, its streams' sessions and its plans' events) in log
// order: {"items": [...], "next_after_seq": N}, items as in GET /v1/events,
// N the seq of the last item (after_seq when there is none). 404 when the
// device never had an event.
func (s *Server) deviceEvents(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	eq, p := deviceEventQuery(c.QueryParams())
	if p != nil {
		return p
	}
	if s.devices == nil {
		return unavailable("the device service is not running on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	evs, err := s.devices.History(ctx, id, eq.AfterSeq, eq.Limit)
	if err != nil {
		s.log.Warn("device history", "request_id", requestID(c), "device", id, "err", err)
		return unavailable("the event log did not answer; retry")
	}
	items := make([]eventItem, 0, len(evs))
	next := eq.AfterSeq
	for _, e := range evs { // in order, each once (History)
		items = append(items, eventItemOf(e))
		next = e.Seq
	}
	if len(items) == 0 {
		// Past the end of a device's history is an empty page; a device
		// without any history is unknown.
		known := false
		if eq.AfterSeq > 0 {
			first, err := s.devices.History(ctx, id, 0, 1)
			if err != nil {
				s.log.Warn("device history", "request_id", requestID(c), "device", id, "err", err)
				return unavailable("the event log did not answer; retry")
			}
			known = len(first) > 0
		}
		if !known {
			return problem(http.StatusNotFound, "", "no such device")
		}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items, "next_after_seq": next})
}

// deviceEventQuery reads after_seq and limit of a device's history exactly
// as GET /v1/events does (defaults, bounds, problems naming the parameter);
// the replay's other filters do not apply to it.
func deviceEventQuery(q url.Values) (eventQuery, *Problem) {
	page := url.Values{}
	for _, k := range []string{"after_seq", "limit"} {
		if vs, ok := q[k]; ok {
			page[k] = vs
		}
	}
	return parseEventQuery(page, true, "")
}

// patchCredential reads username or password from a merge patch (null
// clears it); absent, it falls back to what the patched URL carried.
func patchCredential(patch map[string]json.RawMessage, field string, check func(string) *Problem, fromURL *string, changed bool) (*string, bool, *Problem) {
	raw, ok := patch[field]
	if !ok {
		return fromURL, changed, nil
	}
	v, _, p := patchString(raw, field)
	if p != nil {
		return nil, changed, p
	}
	if p := check(v); p != nil {
		return nil, changed, p
	}
	return &v, true, nil
}

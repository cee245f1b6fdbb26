package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/webhook"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/work/upload"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
)

// Tasks is the task side of the node: commands to the tasks' actors
// (*shard.Host), the live tasks cluster-wide, and the work queues' view
// (workers and queue depths).
type Tasks interface {
	AskTask(ctx context.Context, cmd proto.Message) (*pb.TaskReply, error)
	ListTasks(ctx context.Context, q *pb.ListTasks) ([]*pb.TaskView, error)
	Workers(ctx context.Context) ([]*pb.WorkerInfo, error)
	Depths(ctx context.Context) ([]QueueDepth, error)
}

// QueueDepth is what waits in one worker group.
type QueueDepth struct {
	Group          string `json:"group"`
	OnlineWaiting  int    `json:"online_waiting"`
	OfflineWaiting int    `json:"offline_waiting"` // dispatched to the offline queue, no slot yet
	Backlog        int    `json:"backlog"`         // offline tasks the scheduler holds back
}

// TaskHistory is the task history in ClickHouse (projections.Service).
type TaskHistory interface {
	Tasks(ctx context.Context, q projections.TaskQuery) ([]*pb.TaskView, string, error)
}

var taskStates = []string{task.Queued, task.Running, task.Succeeded, task.Failed, task.Canceled}

func (s *Server) askTask(c echo.Context, cmd proto.Message) (*pb.TaskReply, error) {
	if s.tasks == nil {
		return nil, unavailable("tasks are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.tasks.AskTask(ctx, cmd)
	if err != nil || r == nil {
		s.log.Warn("task command unanswered", "request_id", requestID(c), "err", err)
		return nil, unavailable("the task's actor did not answer; retry")
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		if r.GetCode() == pb.ReplyCode_REPLY_CODE_NOT_FOUND {
			return nil, problem(http.StatusNotFound, r.GetField(), "%s", r.GetDetail())
		}
		return nil, s.replyProblem(r)
	}
	return r, nil
}

// POST /v1/tasks (operator) → 202 with the task, queued.
func (s *Server) submitTask(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req taskRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	cmd, p := s.taskCommand(c, &req)
	if p != nil {
		return p
	}
	if p := s.checkTaskInput(c, cmd.Spec); p != nil {
		return p
	}
	made := ""
	if cmd.CallbackUrl != "" && req.CallbackSecret == nil {
		cmd.CallbackSecret = webhook.NewSecret()
		made = cmd.CallbackSecret
	}
	r, err := s.askTask(c, cmd)
	if err != nil {
		return err
	}
	out := taskView(r.Task)
	out.CallbackSecret = made
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+out.ID)
	return writeJSON(c, http.StatusAccepted, out)
}

// taskCommand turns the body into a submit, checking what the gateway can
// (shapes, times); the actor checks the rest and names the field.
func (s *Server) taskCommand(c echo.Context, req *taskRequest) (*pb.SubmitTask, *Problem) {
	if req.Type == nil {
		return nil, badRequest("type", "type is required: one of %s", strings.Join(task.Types, ", "))
	}
	if !slices.Contains(task.Types, *req.Type) {
		return nil, badRequest("type", "type must be one of %s", strings.Join(task.Types, ", "))
	}
	sp := &pb.TaskSpec{Type: *req.Type}
	if req.Device != nil {
		sp.Device = *req.Device
	}
	if req.Channel != nil {
		if *req.Channel < 1 || *req.Channel > events.MaxChannels {
			return nil, badRequest("channel", "channel must be 1..%d", events.MaxChannels)
		}
		sp.Channel = uint32(*req.Channel)
	} else if sp.Device != "" {
		sp.Channel = 1
	}
	for _, f := range []struct {
		name string
		v    *string
		dst  *int64
	}{{"from", req.From, &sp.FromUnixMs}, {"to", req.To, &sp.ToUnixMs}} {
		if f.v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *f.v)
		if err != nil {
			return nil, badRequest(f.name, "%s must be an RFC 3339 time", f.name)
		}
		*f.dst = t.UnixMilli()
	}
	if sp.ToUnixMs != 0 && sp.FromUnixMs != 0 && sp.ToUnixMs <= sp.FromUnixMs {
		return nil, badRequest("to", "to must be after from")
	}
	if req.Source != nil {
		sp.Source = *req.Source
	}
	if req.Params != nil {
		sp.Params = &pb.TaskParams{Timestamp: req.Params.Timestamp, Speed: req.Params.Speed, Renditions: req.Params.Renditions, Width: req.Params.Width}
	}
	if req.Group != nil {
		sp.Group = *req.Group
	}
	sp.Priority = task.DefaultPriority
	if req.Priority != nil {
		if *req.Priority < 0 || *req.Priority > task.MaxPriority {
			return nil, badRequest("priority", "priority must be 0..%d", task.MaxPriority)
		}
		sp.Priority = int32(*req.Priority)
	}
	if req.MaxAttempts != nil {
		if *req.MaxAttempts < 1 || *req.MaxAttempts > 10 {
			return nil, badRequest("max_attempts", "max_attempts must be 1..10")
		}
		sp.MaxAttempts = uint32(*req.MaxAttempts)
	}
	cmd := &pb.SubmitTask{Meta: meta(c), Id: newID("tk-"), Spec: sp}
	if p, ok := principalOf(c); ok {
		cmd.By, sp.KeyId = p.KeyID, p.KeyID
	}
	if req.CallbackURL != nil {
		cmd.CallbackUrl = *req.CallbackURL
	}
	if req.CallbackSecret != nil {
		cmd.CallbackSecret = *req.CallbackSecret
	}
	task.Normalize(sp)
	if rej := task.CheckSpec(sp); rej != nil {
		return nil, badRequest(rej.Field, "%s", rej.Detail)
	}
	return cmd, nil
}

// checkTaskInput checks what the task works on: the device and channel
// exist, the range holds recordings, the upload exists.
func (s *Server) checkTaskInput(c echo.Context, sp *pb.TaskSpec) *Problem {
	if sp.Source != "" {
		if s.uploads == nil {
			return problem(http.StatusNotFound, "source", "uploads are not served by this node")
		}
		info, err := s.uploads.Info(c.Request().Context(), sp.Source)
		switch {
		case errors.Is(err, upload.ErrNotFound):
			return problem(http.StatusNotFound, "source", "no such upload: %s", sp.Source)
		case err != nil:
			return unavailable("the upload storage did not answer; retry")
		case !info.Complete():
			return problem(http.StatusConflict, "source", "upload %s has %d of its %d bytes", sp.Source, info.Offset, info.Size)
		}
		return nil
	}
	r, err := s.ask(c, sp.Device, &pb.GetDevice{Id: sp.Device})
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return p
		}
		return unavailable("the device's actor did not answer; retry")
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK || r.GetDevice().GetRemoved() {
		return problem(http.StatusNotFound, "device", "no such device: %s", sp.Device)
	}
	if int(sp.Channel) > int(r.GetDevice().GetChannels()) {
		return problem(http.StatusNotFound, "channel", "device %s has %d channel(s)", sp.Device, r.GetDevice().GetChannels())
	}
	if sp.Type == task.TypeSnapshot && sp.FromUnixMs == 0 {
		return nil // live
	}
	if s.recordings == nil || s.recordings.Index == nil {
		return unavailable("the recording index is not served by this node")
	}
	from, to := time.UnixMilli(sp.FromUnixMs), time.UnixMilli(sp.ToUnixMs)
	if sp.ToUnixMs == 0 {
		to = from.Add(time.Millisecond)
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	segs, err := s.recordings.Index(ctx, sp.Device, int(sp.Channel), from, to, 1)
	if err != nil && len(segs) == 0 {
		return unavailable("the recording index did not answer; retry")
	}
	if len(segs) == 0 {
		return problem(http.StatusUnprocessableEntity, "from", "nothing is recorded on %s channel %d in that range", sp.Device, sp.Channel)
	}
	return nil
}

func taskIDParam(c echo.Context) (string, *Problem) {
	id := c.Param("id")
	if !events.ValidID(id) {
		return "", badRequest("id", "id %s", events.IDRule)
	}
	return id, nil
}

// GET /v1/tasks/{id} (viewer)
func (s *Server) getTask(c echo.Context) error {
	id, p := taskIDParam(c)
	if p != nil {
		return p
	}
	r, err := s.askTask(c, &pb.GetTask{Id: id})
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, taskView(r.Task))
}

// POST /v1/tasks/{id}/cancel (operator): 200 with the canceled task; 409
// when it is over already.
func (s *Server) cancelTask(c echo.Context) error {
	id, p := taskIDParam(c)
	if p != nil {
		return p
	}
	cmd := &pb.CancelTask{Meta: meta(c), Id: id}
	if p, ok := principalOf(c); ok {
		cmd.By = p.KeyID
	}
	r, err := s.askTask(c, cmd)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, taskView(r.Task))
}

// GET /v1/tasks/{id}/result (viewer): the result file, with Range.
func (s *Server) taskResult(c echo.Context) error {
	return s.serveTaskFile(c, "")
}

// GET /v1/tasks/{id}/files/* (viewer): a file of a multi-file result (an
// HLS rendition's playlist or segment), relative to the result's folder.
func (s *Server) taskFile(c echo.Context) error {
	rel := c.Param("*")
	if rel == "" || storage.ValidKey(rel) != nil {
		return problem(http.StatusNotFound, "", "no such file")
	}
	return s.serveTaskFile(c, rel)
}

func (s *Server) serveTaskFile(c echo.Context, rel string) error {
	id, p := taskIDParam(c)
	if p != nil {
		return p
	}
	r, err := s.askTask(c, &pb.GetTask{Id: id})
	if err != nil {
		return err
	}
	res := r.Task.GetResult()
	if r.Task.State != task.Succeeded || res == nil {
		return problem(http.StatusConflict, "state", "the task is %s: no result yet", r.Task.State)
	}
	if s.pictures == nil {
		return unavailable("the result storage is not served by this node")
	}
	key, ctype := res.Key, res.ContentType
	if rel != "" {
		if !slices.Contains(res.Files, rel) {
			return problem(http.StatusNotFound, "", "no such file")
		}
		key, ctype = path.Join(path.Dir(res.Key), rel), contentTypeOf(rel)
	}
	f, _, err := s.pictures.Open(c.Request().Context(), key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return problem(http.StatusGone, "", "the result is no longer stored")
		}
		return unavailable("the result storage did not answer; retry")
	}
	defer f.Close()
	c.Response().Header().Set(echo.HeaderContentType, ctype)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, f)
	return nil
}

func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".mp4", ".m4s":
		return "video/mp4"
	case ".jpg":
		return "image/jpeg"
	}
	return "application/octet-stream"
}

// GET /v1/tasks?state=&type=&device=&limit=&cursor= (viewer): queued and
// running tasks from their actors (cluster-wide, no ClickHouse needed),
// oldest first; any other listing from the history in ClickHouse, newest
// first.
func (s *Server) listTasks(c echo.Context) error {
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
	hq := projections.TaskQuery{State: q.Get("state"), Type: q.Get("type"), Device: q.Get("device"), Limit: limit, Cursor: q.Get("cursor")}
	if hq.State != "" && !slices.Contains(taskStates, hq.State) {
		return badRequest("state", "state must be one of %s", strings.Join(taskStates, ", "))
	}
	if hq.Type != "" && !slices.Contains(task.Types, hq.Type) {
		return badRequest("type", "type must be one of %s", strings.Join(task.Types, ", "))
	}
	if hq.Device != "" && !events.ValidID(hq.Device) {
		return badRequest("device", "device %s", events.IDRule)
	}
	out := struct {
		Items      []taskJSON `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}{Items: []taskJSON{}}
	var items []*pb.TaskView
	if hq.State == task.Queued || hq.State == task.Running {
		if s.tasks == nil {
			return unavailable("tasks are not served by this node")
		}
		ctx, cancel := contextWithTimeout(c, s.timeout)
		defer cancel()
		all, err := s.tasks.ListTasks(ctx, &pb.ListTasks{State: hq.State, Type: hq.Type, Device: hq.Device})
		if err != nil {
			s.log.Warn("list tasks", "request_id", requestID(c), "err", err)
			return unavailable("the live tasks are unavailable; retry")
		}
		afterMS, afterID, p := parseTaskCursor(hq.Cursor)
		if p != nil {
			return p
		}
		for _, v := range all {
			if afterID == "" || v.CreatedAtUnixMs > afterMS || v.CreatedAtUnixMs == afterMS && v.Id > afterID {
				items = append(items, v)
			}
		}
		if len(items) > limit {
			items = items[:limit]
			last := items[limit-1]
			cur := timeCursor(last.CreatedAtUnixMs, last.Id)
			out.NextCursor = &cur
		}
	} else {
		h := s.taskHistory()
		if h == nil {
			return unavailable("the task history needs ClickHouse; queued and running tasks (state=queued|running) are served without it")
		}
		ctx, cancel := contextWithTimeout(c, analyticsQueryTimeout)
		defer cancel()
		var next string
		var err error
		if items, next, err = h.Tasks(ctx, hq); err != nil {
			return s.queryFailed(c, "tasks", err)
		}
		if next != "" {
			out.NextCursor = &next
		}
	}
	for _, v := range items {
		out.Items = append(out.Items, taskView(v))
	}
	return writeJSON(c, http.StatusOK, out)
}

func parseTaskCursor(cur string) (int64, string, *Problem) {
	if cur == "" {
		return 0, "", nil
	}
	return parseTimeCursor(cur, events.ValidID)
}

// timeCursor is a next_cursor of pages ordered by (time, id): alarms, tasks.
func timeCursor(ms int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10) + "|" + id))
}

// parseTimeCursor reads a timeCursor whose id valid accepts.
func parseTimeCursor(cur string, valid func(string) bool) (int64, string, *Problem) {
	bad := badRequest("cursor", "cursor must be a next_cursor from a previous page")
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return 0, "", bad
	}
	ms, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || !valid(id) {
		return 0, "", bad
	}
	return n, id, nil
}

// taskHistory is the ClickHouse side of tasks (nil: not here).
func (s *Server) taskHistory() TaskHistory {
	if s.analytics == nil {
		return nil
	}
	h, _ := s.analytics.(TaskHistory)
	return h
}

// GET /v1/workers (viewer): the workers, their slots and load, and what
// waits in each group.
func (s *Server) listWorkers(c echo.Context) error {
	if s.tasks == nil {
		return unavailable("tasks are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	ws, err := s.tasks.Workers(ctx)
	if err != nil {
		return unavailable("the worker registry did not answer; retry")
	}
	depths, err := s.tasks.Depths(ctx)
	if err != nil {
		return unavailable("the work queues did not answer; retry")
	}
	out := struct {
		Items  []workerJSON `json:"items"`
		Groups []QueueDepth `json:"groups"`
	}{Items: []workerJSON{}, Groups: append([]QueueDepth{}, depths...)}
	for _, w := range ws {
		out.Items = append(out.Items, workerView(w))
	}
	return writeJSON(c, http.StatusOK, out)
}

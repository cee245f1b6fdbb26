package gateway

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/work/upload"
	"github.com/labstack/echo/v4"
)

// vodJSON is an uploaded video and its HLS ladder.
type vodJSON struct {
	ID         string            `json:"id"`
	State      string            `json:"state"` // uploading | queued | processing | ready | failed | canceled
	Bytes      int64             `json:"bytes"`
	Received   int64             `json:"received"`
	Metadata   map[string]string `json:"metadata"`
	Progress   float64           `json:"progress"`
	DurationMS int64             `json:"duration_ms"`
	Renditions []string          `json:"renditions"`
	HLSURL     *string           `json:"hls_url"`
	ExpiresAt  *string           `json:"expires_at,omitempty"`
	Error      string            `json:"error,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// vodStates maps a transcode's state to its VOD's.
var vodStates = map[string]string{task.Queued: "queued", task.Running: "processing", task.Succeeded: "ready", task.Failed: "failed", task.Canceled: "canceled"}

// GET /v1/vod/{id} (viewer): the upload, its transcode, and a signed
// hls_url as soon as its first rendition is published.
func (s *Server) getVOD(c echo.Context) error {
	id, p := taskIDParam(c)
	if p != nil {
		return p
	}
	if s.uploads == nil {
		return unavailable("uploads are not served by this node")
	}
	info, err := s.uploads.Info(c.Request().Context(), id)
	if errors.Is(err, upload.ErrNotFound) {
		return problem(http.StatusNotFound, "id", "no such upload: %s", id)
	}
	if err != nil {
		return unavailable("the upload storage did not answer; retry")
	}
	out := vodJSON{ID: id, State: "uploading", Bytes: info.Size, Received: info.Offset, Metadata: info.MetaData,
		CreatedAt: time.UnixMilli(info.Created).UTC(), Renditions: []string{}}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if !info.Complete() {
		return writeJSON(c, http.StatusOK, out)
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.tasks.AskTask(ctx, &pb.GetTask{Id: id})
	if err == nil && r.Code == pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		// Finished, but its transcode was never queued (the node died
		// between the two): queue it now.
		if err := s.submitVOD(ctx, id, info.By, info.MetaData); err != nil {
			return unavailable("the upload's transcode could not be queued; retry")
		}
		r, err = s.tasks.AskTask(ctx, &pb.GetTask{Id: id})
	}
	if err != nil || r.Code != pb.ReplyCode_REPLY_CODE_OK {
		return unavailable("the upload's transcode did not answer; retry")
	}
	s.fillVOD(c, &out, r.Task)
	return writeJSON(c, http.StatusOK, out)
}

func (s *Server) fillVOD(c echo.Context, out *vodJSON, t *pb.TaskView) {
	out.State, out.Progress, out.Error = vodStates[t.State], t.Progress, t.Error
	if out.CreatedAt.IsZero() {
		out.CreatedAt = time.UnixMilli(t.CreatedAtUnixMs).UTC()
	}
	res := t.GetResult()
	if res == nil || s.live == nil || s.live.Signer == nil {
		return
	}
	out.DurationMS = res.DurationMs
	for _, f := range res.Files {
		if dir, file, ok := strings.Cut(f, "/"); ok && file == path.Base(res.Key) && !strings.Contains(file, "/") {
			out.Renditions = append(out.Renditions, dir)
		}
	}
	def, _ := s.live.tokenTTLs()
	expires := time.Now().Add(max(def, time.Hour)).Truncate(time.Second)
	tok := s.live.Signer.Sign(token.Claims{Kind: token.Result, Device: t.Id, Expires: expires, KeyID: callerID(c)})
	u := "/vod/" + t.Id + "/" + path.Base(res.Key) + "?token=" + url.QueryEscape(tok)
	e := formatTime(expires)
	out.HLSURL, out.ExpiresAt = &u, &e
}

// GET /v1/vod (viewer): the uploaded videos that have a transcode, newest
// first: the live ones from their actors, the finished from the history
// (ClickHouse).
func (s *Server) listVOD(c echo.Context) error {
	if s.tasks == nil {
		return unavailable("tasks are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	live, err := s.tasks.ListTasks(ctx, &pb.ListTasks{Type: task.TypeTranscode})
	if err != nil {
		return unavailable("the live tasks are unavailable; retry")
	}
	items := slices.DeleteFunc(live, func(t *pb.TaskView) bool { return t.Spec.GetSource() == "" })
	incomplete := false
	if h := s.taskHistory(); h != nil {
		hist, _, err := h.Tasks(ctx, projections.TaskQuery{Type: task.TypeTranscode, Limit: maxPageLimit})
		if err != nil {
			incomplete = true
		}
		for _, t := range hist {
			if t.Spec.GetSource() != "" && !slices.ContainsFunc(items, func(x *pb.TaskView) bool { return x.Id == t.Id }) {
				items = append(items, t)
			}
		}
	} else {
		incomplete = true
	}
	slices.SortFunc(items, func(a, b *pb.TaskView) int { return cmp.Compare(b.CreatedAtUnixMs, a.CreatedAtUnixMs) })
	out := struct {
		Items []vodJSON `json:"items"`
		// Incomplete: the finished ones are missing (no ClickHouse here).
		Incomplete bool `json:"incomplete"`
	}{Items: []vodJSON{}, Incomplete: incomplete}
	for _, t := range items {
		v := vodJSON{ID: t.Id, Renditions: []string{}, Metadata: map[string]string{}}
		s.fillVOD(c, &v, t)
		out.Items = append(out.Items, v)
	}
	return writeJSON(c, http.StatusOK, out)
}

// GET /vod/{id}/* (the result token authorizes): a VOD's (or a
// transcode's) playlists and segments. Playlists are rewritten so that every URI carries the token
// (players resolve relative URIs without the query).
func (s *Server) serveVOD(c echo.Context) error {
	id, p := taskIDParam(c)
	if p != nil {
		return p
	}
	if s.live == nil || s.live.Signer == nil {
		return unavailable("tokens are not configured on this node")
	}
	tok := c.QueryParam("token")
	if _, err := s.live.Signer.CheckResult(tok, id, time.Now()); err != nil {
		return problem(http.StatusUnauthorized, "token", "%v", err)
	}
	rel := c.Param("*")
	if rel == "" || storage.ValidKey(rel) != nil {
		return problem(http.StatusNotFound, "", "no such file")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	r, err := s.tasks.AskTask(ctx, &pb.GetTask{Id: id})
	cancel()
	if err != nil || r.Code != pb.ReplyCode_REPLY_CODE_OK {
		return problem(http.StatusNotFound, "", "no such video")
	}
	// Any file of the result's folder: a transcode publishes its HLS as it
	// encodes (the playlists list what is up), ahead of the partial
	// result's list of files.
	res := r.Task.GetResult()
	if res == nil {
		return problem(http.StatusNotFound, "", "no such file")
	}
	f, _, err := s.pictures.Open(c.Request().Context(), path.Join(path.Dir(res.Key), rel))
	if err != nil {
		return problem(http.StatusNotFound, "", "no such file")
	}
	defer f.Close()
	if path.Ext(rel) != ".m3u8" {
		c.Response().Header().Set(echo.HeaderContentType, contentTypeOf(rel))
		http.ServeContent(c.Response(), c.Request(), "", time.Time{}, f)
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return unavailable("the playlist could not be read; retry")
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache") // a partial ladder grows
	return c.Blob(http.StatusOK, "application/vnd.apple.mpegurl", withToken(body, tok))
}

// withToken appends ?token= to every URI line of a playlist.
func withToken(playlist []byte, tok string) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(playlist))
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			line = fmt.Sprintf("%s?token=%s", t, url.QueryEscape(tok))
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

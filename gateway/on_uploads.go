package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/work/upload"
	"github.com/labstack/echo/v4"
	"github.com/tus/tusd/v2/pkg/handler"
	xslog "golang.org/x/exp/slog" // tusd's logger type
)

// Uploads are resumable VOD uploads (the tus protocol) into the recording
// storage; a finished upload becomes a transcode task of the same id.
type Uploads struct {
	Store   *upload.Store
	MaxSize int64 // bytes; default 4 GiB
}

// DefaultUploadMaxSize bounds one upload unless configured.
const DefaultUploadMaxSize = 4 << 30

// uploadsPrefix is the tus base path: Location is /v1/uploads/{id}.
const uploadsPrefix = "/v1/uploads/"

type uploaderKey struct{}

// newTus builds the tus handler on the upload store.
func (s *Server) newTus(u *Uploads) (*handler.Handler, error) {
	composer := handler.NewStoreComposer()
	u.Store.UseIn(composer)
	return handler.NewHandler(handler.Config{
		StoreComposer:        composer,
		BasePath:             uploadsPrefix,
		MaxSize:              u.MaxSize,
		DisableDownload:      true,
		Cors:                 &handler.CorsConfig{Disable: true},
		DisableConcatenation: true,
		Logger:               xslog.New(xslog.NewTextHandler(io.Discard, nil)), // the access log is the gateway's
		PreUploadCreateCallback: func(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
			meta := map[string]string{}
			for k, v := range hook.Upload.MetaData {
				meta[k] = v
			}
			if by, ok := hook.Context.Value(uploaderKey{}).(string); ok {
				meta[upload.ByMeta] = by
			}
			return handler.HTTPResponse{}, handler.FileInfoChanges{ID: upload.NewID(), MetaData: meta}, nil
		},
		// The upload is in: its transcode is queued before the client hears
		// so (a lost submit is made up by GET /v1/vod/{id}).
		PreFinishResponseCallback: func(hook handler.HookEvent) (handler.HTTPResponse, error) {
			by, _ := hook.Context.Value(uploaderKey{}).(string)
			if err := s.submitVOD(hook.Context, hook.Upload.ID, by, hook.Upload.MetaData); err != nil {
				s.log.Warn("vod transcode not submitted; GET /v1/vod/{id} will", "upload", hook.Upload.ID, "err", err)
			}
			return handler.HTTPResponse{}, nil
		},
	})
}

// submitVOD queues the transcode of a finished upload (task id = upload
// id); one that exists already is fine.
func (s *Server) submitVOD(ctx context.Context, id, by string, meta map[string]string) error {
	if s.tasks == nil {
		return errors.New("tasks are not served by this node")
	}
	sp := &pb.TaskSpec{Type: task.TypeTranscode, Source: id, KeyId: by, Priority: task.DefaultPriority, Params: &pb.TaskParams{}}
	if r := meta["renditions"]; r != "" {
		sp.Params.Renditions = strings.Split(r, ",")
	}
	if g := meta["group"]; g != "" {
		sp.Group = g
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	r, err := s.tasks.AskTask(ctx, &pb.SubmitTask{Meta: &pb.CommandMeta{CommandId: "vod-" + id}, Id: id, Spec: sp, By: by})
	switch {
	case err != nil:
		return err
	case r.Code == pb.ReplyCode_REPLY_CODE_OK, r.Code == pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS:
		return nil
	}
	return errors.New(r.Detail)
}

// serveUploads is the tus endpoint (operator): it checks what tus would
// answer in plain text (the size, the upload's id) as problem+json naming
// the header or id, then hands the request to tus.
func (s *Server) serveUploads(c echo.Context) error {
	if s.tus == nil {
		return unavailable("uploads are not served by this node")
	}
	req := c.Request()
	rest := strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(uploadsPrefix, "/"))
	rest = strings.TrimPrefix(rest, "/")
	switch {
	case rest == "" && req.Method == http.MethodPost:
		v := req.Header.Get("Upload-Length")
		n, err := strconv.ParseInt(v, 10, 64)
		if v == "" || err != nil || n < 0 {
			return badRequest("Upload-Length", "Upload-Length must give the upload's size in bytes")
		}
		if n > s.uploadMax {
			return problem(http.StatusRequestEntityTooLarge, "Upload-Length", "an upload may be at most %d bytes", s.uploadMax)
		}
	default:
		if strings.Contains(rest, "/") || !events.ValidID(rest) {
			return problem(http.StatusNotFound, "id", "no such upload")
		}
		if _, err := s.uploads.Info(req.Context(), rest); errors.Is(err, upload.ErrNotFound) {
			return problem(http.StatusNotFound, "id", "no such upload: %s", rest)
		} else if err != nil {
			return unavailable("the upload storage did not answer; retry")
		}
		if req.Method == http.MethodPatch {
			// A chunk may take longer than the server's read timeout.
			_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(time.Hour))
		}
	}
	if p, ok := principalOf(c); ok {
		req = req.WithContext(context.WithValue(req.Context(), uploaderKey{}, p.KeyID))
	}
	http.StripPrefix("/v1/uploads", s.tus).ServeHTTP(c.Response(), req)
	return nil
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/argus-vms/argus/actors/media/snapshot"
	"github.com/labstack/echo/v4"
)

// snapshotTimeout bounds one snapshot: the camera's URI, or starting the
// stream and decoding its keyframe.
var snapshotTimeout = 10 * time.Second

// GET /v1/devices/{id}/channels/{ch}/snapshot.jpg[?width=] (viewer key or
// the channel's live token) → a JPEG: from the camera's snapshot URI when
// it has one, else (or when that fails) the relay's latest keyframe,
// decoded; the same picture for up to a second. Served by the node hosting
// the device.
func (s *Server) snapshotJPEG(c echo.Context) error {
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	width := 0
	if v := c.QueryParam("width"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < snapshot.MinWidth || n > snapshot.MaxWidth {
			return badRequest("width", "width must be %d..%d pixels", snapshot.MinWidth, snapshot.MaxWidth)
		}
		width = n
	}
	if done, err := s.onOwner(c, id); done {
		return err
	}
	if s.live == nil || s.live.Keyframe == nil {
		return unavailable("snapshots are not served by this node")
	}
	t, p := s.cameraOf(c, id, ch)
	if p != nil {
		return p
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), snapshotTimeout)
	defer cancel()
	key := fmt.Sprintf("%s~%d", id, ch)
	var jpg []byte
	var camErr error
	if ch <= len(t.Sources) && t.Sources[ch-1].SnapshotURL != "" {
		jpg, camErr = s.snapshots.FromURL(ctx, key, t.Sources[ch-1].SnapshotURL, t.Username, t.Password, width)
		if camErr != nil {
			s.log.Info("camera snapshot failed; decoding the stream's keyframe", "device", id, "channel", ch, "err", camErr)
		}
	}
	if jpg == nil {
		annexB, err := s.live.Keyframe(ctx, id, ch)
		if err != nil {
			if camErr != nil {
				return snapshotProblem(camErr)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return problem(http.StatusGatewayTimeout, "", "the stream had no keyframe in time")
			}
			return problem(http.StatusBadGateway, "", "no picture from the camera: %v", err)
		}
		if jpg, err = s.snapshots.FromKeyframe(ctx, key, annexB, width); err != nil {
			return snapshotProblem(err)
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "image/jpeg")
	h.Set(echo.HeaderCacheControl, "private, max-age=1")
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(jpg)))
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(jpg)
	return err
}

func snapshotProblem(err error) *Problem {
	switch {
	case errors.Is(err, snapshot.ErrUnauthorized):
		return problem(http.StatusBadGateway, "password", "the camera refused the device's credentials for its snapshot")
	case errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusGatewayTimeout, "", "the snapshot took too long")
	}
	return problem(http.StatusBadGateway, "", "no snapshot: %v", err)
}

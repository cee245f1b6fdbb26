package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/argus-vms/argus/actors/device"
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
	jpg, err := s.snapshots.Channel(ctx, s.pictureOf(t, id, ch), width)
	if err != nil {
		return snapshotProblem(err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "image/jpeg")
	h.Set(echo.HeaderCacheControl, "private, max-age=1")
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(jpg)))
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(jpg)
	return err
}

// Picture is a JPEG of a channel (1..) of a device hosted on this node, as
// the snapshot API takes it: alarms take theirs with it.
func (s *Server) Picture(ctx context.Context, id string, ch int) ([]byte, error) {
	if s.cameras == nil || s.live == nil || s.live.Keyframe == nil {
		return nil, errors.New("snapshots are not served by this node")
	}
	t, err := s.cameras.Camera(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case !t.Found || ch < 1 || ch > t.Channels:
		return nil, fmt.Errorf("device %s has no channel %d", id, ch)
	}
	return s.snapshots.Channel(ctx, s.pictureOf(t, id, ch), 0)
}

// pictureOf is where a channel of a device hosted here takes its picture.
func (s *Server) pictureOf(t device.TargetInfo, id string, ch int) snapshot.ChannelSource {
	src := snapshot.ChannelSource{Key: fmt.Sprintf("%s~%d", id, ch), Username: t.Username, Password: t.Password,
		Keyframe: func(ctx context.Context) ([]byte, error) { return s.live.Keyframe(ctx, id, ch) }}
	if ch <= len(t.Sources) {
		src.URL = t.Sources[ch-1].SnapshotURL
	}
	return src
}

func snapshotProblem(err error) *Problem {
	var noKeyframe *snapshot.KeyframeError
	switch {
	case errors.As(err, &noKeyframe) && errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusGatewayTimeout, "", "the stream had no keyframe in time")
	case errors.As(err, &noKeyframe):
		return problem(http.StatusBadGateway, "", "%v", err)
	case errors.Is(err, snapshot.ErrUnauthorized):
		return problem(http.StatusBadGateway, "password", "the camera refused the device's credentials for its snapshot")
	case errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusGatewayTimeout, "", "the snapshot took too long")
	}
	return problem(http.StatusBadGateway, "", "no snapshot: %v", err)
}

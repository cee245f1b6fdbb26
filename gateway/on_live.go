package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// Live is the media side of a node, as the gateway needs it.
type Live struct {
	Signer    *token.Signer
	Advertise string // host (or host:port) clients reach this node at
	RTSPPort  int    // the node's RTSP relay port
	HTTPPort  int    // the node's HTTP port as clients reach it
	// HLS returns the HLS handler of a device channel, starting the stream
	// on demand; the handler serves paths relative to /hls/<device>/<ch>/.
	HLS func(ctx context.Context, device string, channel int) (http.Handler, error)
	// Streams lists the node's active streams.
	Streams func(ctx context.Context) ([]StreamInfo, error)
}

// StreamInfo is one row of GET /v1/streams.
type StreamInfo struct {
	Device      string    `json:"device"`
	Channel     int       `json:"channel"`
	Node        string    `json:"node"`
	State       string    `json:"state"`
	Readers     int       `json:"readers"`
	BitrateKbps float64   `json:"bitrate_kbps"`
	Since       time.Time `json:"since"`
}

const (
	defaultLiveTTL = 300
	maxLiveTTL     = 24 * 3600
)

// channelParam reads {ch}: 1..64.
func channelParam(c echo.Context) (int, *Problem) {
	ch, err := strconv.Atoi(c.Param("ch"))
	if err != nil || ch < 1 || ch > events.MaxChannels {
		return 0, badRequest("channel", "channel must be an integer 1..%d", events.MaxChannels)
	}
	return ch, nil
}

// channelPath reads and validates {id} and {ch} of a device channel route.
func channelPath(c echo.Context) (string, int, *Problem) {
	id, p := pathID(c)
	if p != nil {
		return "", 0, p
	}
	ch, p := channelParam(c)
	return id, ch, p
}

// GET /v1/devices/{id}/channels/{ch}/live[?ttl=300]: signed, expiring URLs
// on the node that hosts the stream.
func (s *Server) liveURLs(c echo.Context) error {
	if s.live == nil || s.live.Signer == nil {
		return unavailable("live video is not configured on this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	ttl := defaultLiveTTL
	if v := c.QueryParam("ttl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLiveTTL {
			return badRequest("ttl", "ttl must be seconds between 1 and %d", maxLiveTTL)
		}
		ttl = n
	}
	r, err := s.ask(c, id, &pb.GetDevice{Id: id})
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK || r.GetDevice().GetRemoved() {
		return problem(http.StatusNotFound, "", "no such device")
	}
	if ch > int(r.GetDevice().GetChannels()) {
		return problem(http.StatusNotFound, "channel", "device %s has %d channel(s)", id, r.GetDevice().GetChannels())
	}
	expires := time.Now().Add(time.Duration(ttl) * time.Second).Truncate(time.Second)
	tok := url.QueryEscape(s.live.Signer.Sign(id, ch, expires))
	host := s.live.Advertise
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	return writeJSON(c, http.StatusOK, map[string]any{
		"rtsp_url":   fmt.Sprintf("rtsp://%s:%d/live/%s/%d?token=%s", host, s.live.RTSPPort, id, ch, tok),
		"hls_url":    fmt.Sprintf("http://%s:%d/hls/%s/%d/index.m3u8?token=%s", host, s.live.HTTPPort, id, ch, tok),
		"expires_at": formatTime(expires),
		"node":       s.node,
	})
}

// GET /v1/streams: the node's active streams.
func (s *Server) listStreams(c echo.Context) error {
	items := []StreamInfo{}
	if s.live != nil && s.live.Streams != nil {
		got, err := s.live.Streams(c.Request().Context())
		if err != nil && len(got) == 0 {
			return unavailable("streams did not answer; retry")
		}
		items = append(items, got...)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// GET /hls/{id}/{ch}/*?token=…: HLS for players, authorized by the stream
// token alone (players send no headers). No valid token → 403, and no pull
// is started.
func (s *Server) serveHLS(c echo.Context) error {
	if s.live == nil || s.live.HLS == nil {
		return problem(http.StatusNotFound, "", "HLS is not served by this node")
	}
	id := c.Param("id")
	if !events.ValidID(id) {
		return problem(http.StatusNotFound, "", "no such stream")
	}
	ch, p := channelParam(c)
	if p != nil {
		return problem(http.StatusNotFound, "", "no such stream")
	}
	if err := s.live.Signer.Check(c.QueryParam("token"), id, ch, time.Now()); err != nil {
		return problem(http.StatusForbidden, "token", "stream token refused: %s", strings.TrimPrefix(err.Error(), "token: "))
	}
	h, err := s.live.HLS(c.Request().Context(), id, ch)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return unavailable("the stream did not start in time; retry")
		}
		return problem(http.StatusNotFound, "", "no such stream: %v", err)
	}
	prefix := fmt.Sprintf("/hls/%s/%d", id, ch)
	http.StripPrefix(prefix, h).ServeHTTP(c.Response(), c.Request())
	return nil
}

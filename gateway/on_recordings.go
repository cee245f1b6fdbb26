package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/actors/plan/schedule"
	"github.com/argus-vms/argus/events"
	"github.com/labstack/echo/v4"
)

// Recordings is the storage side as the gateway needs it.
type Recordings struct {
	// Index lists a channel's segments from the segment index.
	Index func(ctx context.Context, device string, channel int, from, to time.Time, limit int) ([]RecordingItem, error)
	// Segment finds the segment of a channel starting at startMS (from the
	// plan's own state, not from user input) and opens it.
	Segment func(ctx context.Context, device string, channel int, startMS int64) (io.ReadSeekCloser, int64, time.Time, error)
	// MP4 is one fMP4 over [from, to) (seekable; close with the returned func).
	MP4 func(ctx context.Context, device string, channel int, from, to time.Time) (io.ReadSeeker, func() error, error)
	// Playlist is an HLS VOD playlist over [from, to); urlOf names each segment by its start.
	Playlist func(ctx context.Context, device string, channel int, from, to time.Time, urlOf func(startMS int64) string) ([]byte, error)
	// Video says what a range's video is (its segments' inits).
	Video func(ctx context.Context, device string, channel int, from, to time.Time) (RangeVideo, error)
}

// RecordingItem is one row of GET /v1/recordings.
type RecordingItem struct {
	Device     string
	Channel    int
	Start, End time.Time
	DurationMS int64
	Bytes      int64
	Alarms     []string // an event recording's alarms
}

func parseRFC3339(c echo.Context, field string, def time.Time) (time.Time, *Problem) {
	v := c.QueryParam(field)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(field, "%s must be an RFC 3339 time", field)
	}
	return t, nil
}

// GET /v1/recordings?device=&channel=&from=&to=: the segment index.
func (s *Server) listRecordings(c echo.Context) error {
	if s.recordings == nil || s.recordings.Index == nil {
		return unavailable("the recording index is not served by this node")
	}
	dev := c.QueryParam("device")
	if p := checkID(dev); p != nil {
		return badRequest("device", "device is required: %s", events.IDRule)
	}
	ch := 1
	if v := c.QueryParam("channel"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > events.MaxChannels {
			return badRequest("channel", "channel must be 1..%d", events.MaxChannels)
		}
		ch = n
	}
	now := time.Now()
	from, p := parseRFC3339(c, "from", now.Add(-24*time.Hour))
	if p != nil {
		return p
	}
	to, p := parseRFC3339(c, "to", now)
	if p != nil {
		return p
	}
	if !to.After(from) {
		return badRequest("to", "to must be after from")
	}
	rows, err := s.recordings.Index(c.Request().Context(), dev, ch, from, to, 10000)
	if err != nil {
		s.log.Warn("recording index", "device", dev, "channel", ch, "err", err)
		return unavailable("the recording index is unavailable: the event log did not answer")
	}
	items := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		item := map[string]any{
			"start": formatTime(r.Start), "end": formatTime(r.End), "duration_ms": r.DurationMS, "bytes": r.Bytes,
			"url": fmt.Sprintf("/v1/devices/%s/channels/%d/recordings/%d.mp4", r.Device, r.Channel, r.Start.UnixMilli()),
		}
		if len(r.Alarms) > 0 {
			item["alarms"] = r.Alarms
		}
		items = append(items, item)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// GET /v1/devices/{id}/channels/{ch}/recordings/{start_ms}.mp4: one segment,
// with Range support. Bearer key or a stream token for the channel.
func (s *Server) downloadSegment(c echo.Context) error {
	if s.recordings == nil || s.recordings.Segment == nil {
		return problem(http.StatusNotFound, "", "recordings are not served by this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	if o, remote := s.remoteOwner(id); remote {
		return redirectToOwner(c, o) // the owner's storage has the segments
	}
	startMS, err := strconv.ParseInt(strings.TrimSuffix(c.Param("start"), ".mp4"), 10, 64)
	if err != nil || !strings.HasSuffix(c.Param("start"), ".mp4") {
		return problem(http.StatusNotFound, "", "no such segment")
	}
	rd, size, mod, err := s.recordings.Segment(c.Request().Context(), id, ch, startMS)
	if err != nil {
		return problem(http.StatusNotFound, "", "no such segment")
	}
	defer rd.Close()
	_ = size
	c.Response().Header().Set("Content-Type", "video/mp4")
	http.ServeContent(c.Response(), c.Request(), "", mod, rd)
	return nil
}

// tokenOrKey lets a request for recordings through with a playback token
// for the path's device channel whose range holds what is asked (rangeOf),
// else falls back to the bearer key check. Live tokens open no recording.
func (s *Server) tokenOrKey(rangeOf func(echo.Context) (from, to time.Time, p *Problem)) echo.MiddlewareFunc {
	return s.tokenOrKeyWith(func(c echo.Context, tok string, ch int) (token.Claims, error) {
		from, to, p := rangeOf(c)
		if p != nil {
			return token.Claims{}, p
		}
		return s.live.Signer.CheckPlayback(tok, c.Param("id"), ch, from, to, time.Now())
	})
}

// liveTokenOrKey lets in a viewer key or the channel's live token.
func (s *Server) liveTokenOrKey() echo.MiddlewareFunc {
	return s.tokenOrKeyWith(func(c echo.Context, tok string, ch int) (token.Claims, error) {
		return s.live.Signer.CheckLive(tok, c.Param("id"), ch, time.Now())
	})
}

// tokenOrKeyWith lets in a viewer key, or a ?token= that check accepts (a
// *Problem from check is the answer as is; another error refuses the token).
func (s *Server) tokenOrKeyWith(check func(c echo.Context, tok string, ch int) (token.Claims, error)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		viewer := s.require(RoleViewer)(next)
		return func(c echo.Context) error {
			tok := c.QueryParam("token")
			if tok == "" || s.live == nil || s.live.Signer == nil {
				return viewer(c)
			}
			ch, _ := strconv.Atoi(c.Param("ch"))
			claims, err := check(c, tok, ch)
			if p := (*Problem)(nil); errors.As(err, &p) {
				return p
			}
			if err != nil {
				return problem(http.StatusForbidden, "token", "stream token refused: %s", strings.TrimPrefix(err.Error(), "token: "))
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}

// segmentInstant is the start of the segment a download asks for.
func segmentInstant(c echo.Context) (time.Time, time.Time, *Problem) {
	ms, err := strconv.ParseInt(strings.TrimSuffix(c.Param("start"), ".mp4"), 10, 64)
	if err != nil {
		return time.Time{}, time.Time{}, problem(http.StatusNotFound, "", "no such segment")
	}
	t := time.UnixMilli(ms)
	return t, t, nil
}

// GET /v1/devices/{id}/channels/{ch}/playback?start=&end=[&ttl=]: a
// playback token for the range and the URLs that carry it, for players
// that cannot send an API key.
func (s *Server) playbackURLs(c echo.Context) error {
	if s.live == nil || s.live.Signer == nil {
		return unavailable("playback tokens are not configured on this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	from, to, p := playbackRange(c)
	if p != nil {
		return p
	}
	ttl, p := s.tokenTTL(c)
	if p != nil {
		return p
	}
	if c.QueryParam("ttl") == "" {
		// A player fetches the range's segments as it plays: by default the
		// URLs last as long as the range takes to watch, and the default
		// lifetime more, within the maximum.
		def, max := s.live.tokenTTLs()
		ttl = min(max, to.Sub(from)+def)
	}
	expires := time.Now().Add(ttl).Truncate(time.Second)
	tok := s.playbackToken(c, id, ch, from, to, expires)
	q := url.Values{"start": {formatTime(from)}, "end": {formatTime(to)}, "token": {tok}}.Encode()
	base := fmt.Sprintf("/v1/devices/%s/channels/%d", id, ch)
	return writeJSON(c, http.StatusOK, map[string]any{
		"mp4_url": base + "/playback.mp4?" + q, "hls_url": base + "/playback.m3u8?" + q,
		"token": tok, "expires_at": formatTime(expires),
	})
}

// playbackToken opens [from, to] of a channel's recordings, and the
// segments that overlap it (they may start up to the longest segment
// before from).
func (s *Server) playbackToken(c echo.Context, id string, ch int, from, to, expires time.Time) string {
	return s.live.Signer.Sign(token.Claims{Kind: token.Playback, Device: id, Channel: ch,
		From: from.Add(-schedule.MaxSegmentSeconds * time.Second), To: to, Expires: expires, KeyID: callerID(c)})
}

// playbackRange reads ?start=&end= (RFC 3339; end after start, at most 24 h).
func playbackRange(c echo.Context) (time.Time, time.Time, *Problem) {
	if c.QueryParam("start") == "" {
		return time.Time{}, time.Time{}, badRequest("start", "start is required (RFC 3339)")
	}
	from, p := parseRFC3339(c, "start", time.Time{})
	if p != nil {
		return from, from, p
	}
	to, p := parseRFC3339(c, "end", from.Add(time.Hour))
	if p != nil {
		return from, to, p
	}
	if !to.After(from) || to.Sub(from) > 24*time.Hour {
		return from, to, badRequest("end", "end must be after start, at most 24 h later")
	}
	return from, to, nil
}

// GET /v1/devices/{id}/channels/{ch}/playback.mp4?start=&end=: one fMP4 over
// the range, from the keyframe at or before start, with Content-Length and
// Range so players can seek.
func (s *Server) playbackMP4(c echo.Context) error {
	if s.recordings == nil || s.recordings.MP4 == nil {
		return problem(http.StatusNotFound, "", "playback is not served by this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	if o, remote := s.remoteOwner(id); remote {
		return redirectToOwner(c, o)
	}
	from, to, p := playbackRange(c)
	if p != nil {
		return p
	}
	f, closeFn, err := s.recordings.MP4(c.Request().Context(), id, ch, from, to)
	if err != nil {
		return problem(http.StatusNotFound, "", "nothing recorded in that range")
	}
	defer closeFn()
	c.Response().Header().Set("Content-Type", "video/mp4")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, f)
	return nil
}

// GET /v1/devices/{id}/channels/{ch}/playback.m3u8?start=&end=[&codec=h264]:
// an HLS VOD playlist over the range; its URIs carry a stream token so
// players without custom headers work. codec=h264: a range recorded in
// another codec is transcoded (playbackH264).
func (s *Server) playbackM3U8(c echo.Context) error {
	if s.recordings == nil || s.recordings.Playlist == nil {
		return problem(http.StatusNotFound, "", "playback is not served by this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	if o, remote := s.remoteOwner(id); remote {
		return redirectToOwner(c, o)
	}
	from, to, p := playbackRange(c)
	if p != nil {
		return p
	}
	codec, p := playbackCodec(c)
	if p != nil {
		return p
	}
	if codec != "" && s.recordings.Video != nil {
		v, err := s.recordings.Video(c.Request().Context(), id, ch, from, to)
		if err != nil {
			return problem(http.StatusNotFound, "", "nothing recorded in that range")
		}
		if v.needsH264() {
			return s.playbackH264(c, id, ch, from, to, v)
		}
	}
	// The segment URLs carry a playback token of the playlist's range: a
	// token that opened the playlist, else a new one for the caller's key.
	tok := c.QueryParam("token")
	if tok == "" && s.live != nil && s.live.Signer != nil {
		def, _ := s.live.tokenTTLs()
		tok = s.playbackToken(c, id, ch, from, to, time.Now().Add(max(def, to.Sub(from)+def)).Truncate(time.Second))
	}
	urlOf := func(startMS int64) string {
		return fmt.Sprintf("/v1/devices/%s/channels/%d/recordings/%d.mp4?token=%s", id, ch, startMS, url.QueryEscape(tok))
	}
	body, err := s.recordings.Playlist(c.Request().Context(), id, ch, from, to, urlOf)
	if err != nil {
		return problem(http.StatusNotFound, "", "nothing recorded in that range")
	}
	return c.Blob(http.StatusOK, "application/vnd.apple.mpegurl", body)
}

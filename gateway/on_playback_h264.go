package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/argus-vms/argus/actors/media/segfile"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// RangeVideo is what a recorded range's video is.
type RangeVideo struct {
	Codecs []string // "h264", "h265": each once
	Height int      // the tallest picture, 0 when unknown
	// Version changes when the range's segments do (one more indexed):
	// a transcode of the range is of one version.
	Version string
}

const (
	// playbackTranscodeWait bounds how long playback.m3u8?codec=h264
	// waits for the transcode's first segment before answering 503.
	playbackTranscodeWait = 30 * time.Second
	// playbackTranscodeHeight caps the transcode's picture height: a
	// worker encodes it faster than it plays.
	playbackTranscodeHeight = 720
)

// playbackCodec reads ?codec= of a playback URL: "" (as recorded) or
// "h264".
func playbackCodec(c echo.Context) (string, *Problem) {
	switch v := c.QueryParam("codec"); v {
	case "", "h264":
		return v, nil
	default:
		return "", badRequest("codec", "codec must be h264 (or absent: as recorded)")
	}
}

// playbackH264 answers playback.m3u8?codec=h264 for a range recorded (in
// part) in another codec, for players that decode H.264 only (browsers'
// MSE and H.265): one transcode of the range on a worker slot (online
// queue), shared by every viewer of the same range and version, whose HLS
// is published as it is encoded. The answer is a 302 to its signed
// media playlist once the first segment is up.
func (s *Server) playbackH264(c echo.Context, id string, ch int, from, to time.Time, v RangeVideo) error {
	if s.tasks == nil || s.live == nil || s.live.Signer == nil {
		return unavailable("transcoded playback is not served by this node")
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%d\x00%s", id, ch, from.UnixMilli(), to.UnixMilli(), v.Version))
	tid := "pb-" + hex.EncodeToString(sum[:12])
	by := viewerOf(c)
	rung := rungFor(v.Height)
	sp := &pb.TaskSpec{Type: task.TypeTranscode, Device: id, Channel: uint32(ch), FromUnixMs: from.UnixMilli(), ToUnixMs: to.UnixMilli(),
		Queue: task.QueueOnline, Priority: task.MaxPriority, KeyId: by,
		Params: &pb.TaskParams{Renditions: []string{rung}}}
	task.Normalize(sp)
	ctx, cancel := contextWithTimeout(c, playbackTranscodeWait)
	defer cancel()
	r, err := s.tasks.AskTask(ctx, &pb.SubmitTask{Meta: &pb.CommandMeta{CommandId: "sub-" + tid}, Id: tid, Spec: sp, By: by})
	if err != nil {
		return unavailable("the transcode could not be queued; retry")
	}
	if r.Code != pb.ReplyCode_REPLY_CODE_OK && r.Code != pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS {
		return problem(http.StatusUnprocessableEntity, r.Field, "the range cannot be transcoded: %s", r.Detail)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := s.tasks.AskTask(ctx, &pb.GetTask{Id: tid})
		if err == nil && r.Code == pb.ReplyCode_REPLY_CODE_OK {
			t := r.Task
			switch {
			case t.GetResult() != nil:
				return s.redirectToTranscode(c, tid, rung, from, to)
			case t.State == task.Failed || t.State == task.Canceled:
				return problem(http.StatusBadGateway, "", "the transcode of the range %s: %s", t.State, t.Error)
			}
		}
		select {
		case <-ctx.Done():
			p := unavailable("the transcode has not published its first segment yet; retry")
			p.RetryAfter = 5
			return p
		case <-tick.C:
		}
	}
}

// redirectToTranscode sends the player to the playlist of a transcode's
// one rung (a media playlist, as playback.m3u8 is otherwise), with a
// result token lasting as long as a playback token of the range,
// and no longer than the playback token the request came with, for the
// same key (deleting the key ends both).
func (s *Server) redirectToTranscode(c echo.Context, tid, rung string, from, to time.Time) error {
	def, _ := s.live.tokenTTLs()
	expires := time.Now().Add(max(def, to.Sub(from)+def)).Truncate(time.Second)
	if cl, ok := c.Get(claimsKey).(token.Claims); ok && cl.Expires.Before(expires) {
		expires = cl.Expires
	}
	tok := s.live.Signer.Sign(token.Claims{Kind: token.Result, Device: tid, Expires: expires, KeyID: viewerOf(c)})
	return c.Redirect(http.StatusFound, "/vod/"+tid+"/"+rung+"/index.m3u8?token="+url.QueryEscape(tok))
}

// rungFor is the transcode's rendition for a recording of height h: the
// tallest rung no taller than it (and than playbackTranscodeHeight), else
// the smallest.
func rungFor(h int) string {
	best, bestH, low, lowH := "", 0, "", 0
	for name, rh := range task.Renditions {
		if rh <= min(h, playbackTranscodeHeight) && rh > bestH {
			best, bestH = name, rh
		}
		if low == "" || rh < lowH {
			low, lowH = name, rh
		}
	}
	if best == "" {
		return low
	}
	return best
}

// needsH264 reports whether a range has video other than H.264.
func (v RangeVideo) needsH264() bool {
	return slices.ContainsFunc(v.Codecs, func(c string) bool { return c != segfile.H264 })
}

package relay

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// Publishing: a live transcode pushes a rendition of a stream into the
// owner's relay (RTSP ANNOUNCE/RECORD on /live/<device>/<ch>?codec=…, the
// way ffmpeg's RTSP muxer does); Config.Publish authorizes it and names
// the rendition stream it feeds, whose readers get it as from a camera.

// publisherData is a publishing session's state.
type publisherData struct {
	key Key
	st  *Stream
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	if h.s.cfg.Publish == nil {
		return &base.Response{StatusCode: base.StatusMethodNotAllowed}, errors.New("publishing is not served here")
	}
	k, ok := ParseRequest(ctx.Path, ctx.Query)
	if !ok || k.Codec == "" {
		return &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("no rendition at %q", ctx.Path)
	}
	q, err := url.ParseQuery(ctx.Query)
	if err != nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	st, err := h.s.cfg.Publish(k, q)
	if err != nil {
		code := base.StatusUnauthorized
		if errors.Is(err, ErrNotFound) {
			code = base.StatusNotFound
		}
		h.s.log.Info("ANNOUNCE refused", "stream", k.String(), "err", err, "remote", ctx.Conn.NetConn().RemoteAddr().String())
		return &base.Response{StatusCode: code}, err
	}
	st.SetSource(ctx.Description)
	ctx.Session.SetUserData(&publisherData{key: k, st: st})
	h.s.log.Info("rendition publisher connected", "stream", k.String(), "remote", ctx.Conn.NetConn().RemoteAddr().String())
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	pd, _ := ctx.Session.UserData().(*publisherData)
	if pd == nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, errors.New("RECORD without ANNOUNCE")
	}
	st := pd.st
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		st.WritePacket(medi, pkt)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// publisherGone ends what a publishing session fed (from OnSessionClose).
func publisherGone(h *handler, sess *gortsplib.ServerSession) bool {
	pd, _ := sess.UserData().(*publisherData)
	if pd == nil {
		return false
	}
	pd.st.SetSource(nil)
	h.s.log.Info("rendition publisher left", "stream", pd.key.String())
	return true
}

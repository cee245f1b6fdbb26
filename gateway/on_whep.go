package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/argus-vms/argus/actors/media/whep"
	"github.com/argus-vms/argus/events"
)

// WHEPRequest is a WebRTC reader's offer for a device channel.
type WHEPRequest struct {
	Device  string
	Channel int
	Offer   string // SDP
	Viewer  string // the key the live token names (viewing audit)
	Client  string // the peer address
	Codec   string // the rendition asked for (?codec=h264), "" the camera's own
}

// WHEPSession is a WebRTC session started by Live.WHEP.
type WHEPSession interface {
	AddICE(sdpfrag string) error
	Close()
}

// maxOfferBytes bounds an SDP offer or trickle fragment (browsers send a
// few kB).
const maxOfferBytes = 64 << 10

// whepPrefix is where WHEP lives: POST /whep/{id}/{ch}?token=… starts a
// session, /whep/{id}/{ch}/{session} is its resource.
const whepPrefix = "/whep/"

// whepCORS lets WHEP players on other origins use the endpoint (the live
// token, not a cookie, authorizes: no credentials are allowed).
func (s *Server) whepCORS(c echo.Context) {
	h := c.Response().Header()
	origin := c.Request().Header.Get("Origin")
	switch {
	case len(s.live.WHEPOrigins) == 0:
		h.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && slices.Contains(s.live.WHEPOrigins, origin):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		return
	}
	h.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Link")
}

// OPTIONS /whep/{id}/{ch}[/{session}]: CORS preflight.
func (s *Server) whepOptions(c echo.Context) error {
	if s.live == nil || s.live.WHEP == nil {
		return problem(http.StatusNotFound, "", "WebRTC is not served by this node")
	}
	s.whepCORS(c)
	c.Response().Header().Set("Accept-Post", "application/sdp")
	return c.NoContent(http.StatusNoContent)
}

// POST /whep/{id}/{ch}?token=…: an SDP offer → 201 with the answer and
// the session's Location. The live token authorizes, as for HLS; a device
// hosted elsewhere → 307 to its owner.
func (s *Server) whepOffer(c echo.Context) error {
	if s.live == nil || s.live.WHEP == nil {
		return problem(http.StatusNotFound, "", "WebRTC is not served by this node")
	}
	s.whepCORS(c)
	id, ch, claims, err := s.liveMedia(c)
	if id == "" {
		return err
	}
	if p := mediaType(c, "application/sdp"); p != nil {
		return p
	}
	offer, p := readSmallBody(c)
	if p != nil {
		return p
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 15*time.Second)
	defer cancel()
	sid, answer, err := s.live.WHEP(ctx, WHEPRequest{Device: id, Channel: ch, Offer: offer, Viewer: claims.KeyID, Client: c.RealIP(),
		Codec: c.QueryParam("codec")})
	switch {
	case err == nil:
	case errors.Is(err, whep.ErrBadOffer):
		return badRequest("offer", "%v", err)
	case errors.Is(err, whep.ErrNoCodec):
		return problem(http.StatusUnprocessableEntity, "offer", "%v", err)
	case errors.Is(err, ErrWHEPCodec):
		return problem(http.StatusUnprocessableEntity, "codec", "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable("the stream did not start in time; retry")
	default:
		return problem(http.StatusNotFound, "", "no such stream: %v", err)
	}
	h := c.Response().Header()
	h.Set("Location", fmt.Sprintf("%s%s/%d/%s", whepPrefix, id, ch, sid))
	h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	return c.Blob(http.StatusCreated, "application/sdp", []byte(answer))
}

// ErrWHEPCodec: the stream's codec cannot go to WebRTC (H.265).
var ErrWHEPCodec = errors.New("the stream's video is not H.264, the only video WebRTC players get here (ask for ?codec=h264)")

// PATCH /whep/{id}/{ch}/{session}: trickled ICE candidates. The session id
// (random, unguessable) is the capability.
func (s *Server) whepPatch(c echo.Context) error {
	sess, p := s.whepSession(c)
	if p != nil {
		return p
	}
	if p := mediaType(c, "application/trickle-ice-sdpfrag"); p != nil {
		return p
	}
	frag, p := readSmallBody(c)
	if p != nil {
		return p
	}
	switch err := sess.AddICE(frag); {
	case err == nil:
		return c.NoContent(http.StatusNoContent)
	case errors.Is(err, whep.ErrICERestart):
		return problem(http.StatusUnprocessableEntity, "ice-ufrag", "ICE restarts are not supported: start a new session")
	case errors.Is(err, whep.ErrClosed):
		return problem(http.StatusNotFound, "session", "no such session")
	default:
		return badRequest("body", "%v", err)
	}
}

// DELETE /whep/{id}/{ch}/{session}: the reader leaves.
func (s *Server) whepDelete(c echo.Context) error {
	sess, p := s.whepSession(c)
	if p != nil {
		return p
	}
	sess.Close()
	return c.NoContent(http.StatusOK)
}

func (s *Server) whepSession(c echo.Context) (WHEPSession, *Problem) {
	if s.live == nil || s.live.WHEPSession == nil {
		return nil, problem(http.StatusNotFound, "", "WebRTC is not served by this node")
	}
	s.whepCORS(c)
	id := c.Param("session")
	if !events.ValidID(id) {
		return nil, problem(http.StatusNotFound, "session", "no such session")
	}
	sess, ok := s.live.WHEPSession(id)
	if !ok {
		return nil, problem(http.StatusNotFound, "session", "no such session")
	}
	return sess, nil
}

// mediaType checks the request's Content-Type (415 naming it otherwise).
func mediaType(c echo.Context, want string) *Problem {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if err != nil || mt != want {
		return problem(http.StatusUnsupportedMediaType, "Content-Type", "want %s", want)
	}
	return nil
}

func readSmallBody(c echo.Context) (string, *Problem) {
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, maxOfferBytes+1))
	if err != nil {
		return "", badRequest("body", "cannot read the body: %v", err)
	}
	if len(b) > maxOfferBytes {
		return "", problem(http.StatusRequestEntityTooLarge, "body", "larger than %d bytes", maxOfferBytes)
	}
	return string(b), nil
}

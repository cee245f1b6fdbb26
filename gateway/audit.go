package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/audit"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/labstack/echo/v4"
)

// claimsKey holds the stream token a request was let in with.
const claimsKey = "argus.token_claims"

// viewerOf is the key id behind a request: its bearer key, or the key that
// minted its stream token.
func viewerOf(c echo.Context) string {
	if cl, ok := c.Get(claimsKey).(token.Claims); ok {
		return cl.KeyID
	}
	return callerID(c)
}

// audited records the views a media route serves (Config.Views): each
// answered request counts its bytes towards the view of its viewer,
// client, channel and (recordings) range. Redirects and refusals count
// nothing: the node that serves the media records the view.
func (s *Server) audited(protocol string, rangeOf func(echo.Context) (time.Time, time.Time, *Problem)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if s.views == nil {
			return next
		}
		return func(c echo.Context) error {
			cw := &countingWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = cw
			err := next(c)
			if st := c.Response().Status; st < 200 || st > 299 || err != nil || c.Get(proxiedKey) != nil {
				return err
			}
			ch, _ := strconv.Atoi(c.Param("ch"))
			client := c.RealIP()
			v := audit.View{Recording: rangeOf != nil, Device: c.Param("id"), Channel: ch, KeyID: viewerOf(c),
				Client: client, Protocol: protocol}
			if rangeOf != nil {
				v.From, v.To, _ = rangeOf(c)
			}
			key := strings.Join([]string{protocol, v.Device, c.Param("ch"), v.KeyID, hostOnly(client),
				strconv.FormatInt(v.From.Unix(), 10), strconv.FormatInt(v.To.Unix(), 10)}, "|")
			s.views.Touch(key, v, cw.n, time.Now())
			return nil
		}
	}
}

func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// countingWriter counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n uint64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += uint64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// HTTP timeouts: a request must arrive within readTimeout and a reply be
// written within writeTimeout; media and event streams instead get
// streamWriteTimeout for each write, so a reader that stops reading is
// dropped while a long download or tail goes on.
const (
	ReadHeaderTimeout  = 10 * time.Second
	ReadTimeout        = time.Minute
	IdleTimeout        = 2 * time.Minute
	writeTimeout       = time.Minute
	streamWriteTimeout = 30 * time.Second
)

// isStream: routes whose answers last as long as the client reads.
func isStream(path string) bool {
	return strings.HasPrefix(path, "/hls/") || path == "/v1/events/stream" ||
		strings.HasSuffix(path, "/playback.mp4") || strings.Contains(path, "/recordings/") ||
		strings.HasPrefix(path, "/vod/") || strings.HasPrefix(path, "/v1/tasks/")
}

// writeDeadlines sets the write deadline of each reply (see above).
func (s *Server) writeDeadlines(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		w := c.Response().Writer
		if isStream(c.Request().URL.Path) {
			dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
			c.Response().Writer = dw
		} else {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		return next(c)
	}
}

// deadlineWriter moves the write deadline before every write.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_ = w.rc.Flush()
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Failed authentications per client address: past maxFailedAuth within
// failedAuthWindow the client is answered 429 with Retry-After, whatever
// it presents, until the window ends (a key or token guesser gets a few
// tries a minute, not thousands).
const (
	maxFailedAuth    = 20
	failedAuthWindow = time.Minute
)

type authWindow struct {
	start time.Time
	fails int
}

// failedAuths counts failures per client address.
type failedAuths struct {
	mu     sync.Mutex
	m      map[string]*authWindow
	swept  time.Time
	window time.Duration
	max    int
}

func newFailedAuths() *failedAuths {
	return &failedAuths{m: map[string]*authWindow{}, window: failedAuthWindow, max: maxFailedAuth}
}

// blocked: the client used up its failures; retry after the returned time.
func (f *failedAuths) blocked(client string, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.m[client]
	if w == nil || now.Sub(w.start) >= f.window || w.fails < f.max {
		return 0, false
	}
	return w.start.Add(f.window).Sub(now), true
}

// failed counts one failure of client.
func (f *failedAuths) failed(client string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.swept) > f.window { // forget windows that ended
		for k, w := range f.m {
			if now.Sub(w.start) >= f.window {
				delete(f.m, k)
			}
		}
		f.swept = now
	}
	w := f.m[client]
	if w == nil || now.Sub(w.start) >= f.window {
		w = &authWindow{start: now}
		f.m[client] = w
	}
	w.fails++
}

// limitFailedAuth answers 429 to a client past its failures, and counts
// every 401 and token refusal (403 naming the token) it gets.
func (s *Server) limitFailedAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		client := c.RealIP()
		if wait, ok := s.authFails.blocked(client, time.Now()); ok {
			secs := int(wait/time.Second) + 1
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return problem(http.StatusTooManyRequests, "Authorization", "too many failed authentications from %s: retry in %d s", client, secs)
		}
		err := next(c)
		if p, ok := err.(*Problem); ok && (p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden && p.Field == "token") {
			s.authFails.failed(client, time.Now())
		}
		return err
	}
}

package whep

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/whep/whepclient"
)

func testLog() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("WHEP_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newTestServer is a Server on loopback ports, closed with the test.
func newTestServer(t testing.TB, tweak ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{UDPAddr: "127.0.0.1:0", Loopback: true, Log: testLog()}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// serveWHEP is the HTTP side the gateway does for real: POST /whep →
// Offer, PATCH /whep/{id} → AddICE, DELETE /whep/{id} → Close.
func serveWHEP(t testing.TB, srv *Server, src VideoSource) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whep", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		sess, answer, err := srv.Offer(ctx, string(body), src)
		switch {
		case errors.Is(err, ErrBadOffer), errors.Is(err, ErrNoCodec):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Location", "/whep/"+sess.ID())
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	})
	mux.HandleFunc("PATCH /whep/{id}", func(w http.ResponseWriter, r *http.Request) {
		sess, ok := srv.Session(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch err := sess.AddICE(string(body)); {
		case errors.Is(err, ErrBadRequest):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, ErrICERestart):
			http.Error(w, err.Error(), http.StatusMethodNotAllowed)
		case errors.Is(err, ErrClosed):
			http.NotFound(w, r)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("DELETE /whep/{id}", func(w http.ResponseWriter, r *http.Request) {
		sess, ok := srv.Session(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		sess.Close()
		w.WriteHeader(http.StatusOK)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

// dial opens a whepclient session on hs, closed with the test.
func dial(t testing.TB, hs *httptest.Server, opts ...whepclient.Option) *whepclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]whepclient.Option{whepclient.WithHTTPClient(hs.Client())}, opts...)
	c, err := whepclient.Dial(ctx, hs.URL+"/whep", opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// firstFrame waits for the client's first IDR.
func firstFrame(t testing.TB, c *whepclient.Client) time.Duration {
	t.Helper()
	select {
	case d := <-c.FirstFrame():
		return d
	case <-c.Done():
		t.Fatalf("peer connection ended before the first frame: %+v", c.Stats())
	case <-time.After(8 * time.Second):
		t.Fatalf("no IDR in 8 s: %+v", c.Stats())
	}
	return 0
}

// eventually polls cond for up to d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// audioInactive reports whether the answer keeps its audio m-line (port,
// a=mid, in the BUNDLE group) with a=inactive.
func audioInactive(answer string) bool {
	_, audio, ok := strings.Cut(answer, "m=audio ")
	if !ok || strings.HasPrefix(audio, "0 ") {
		return false
	}
	if i := strings.Index(audio, "\r\nm="); i >= 0 {
		audio = audio[:i]
	}
	return strings.Contains(audio, "\r\na=inactive") && strings.Contains(audio, "\r\na=mid:")
}

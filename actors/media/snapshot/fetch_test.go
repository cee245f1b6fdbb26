package snapshot

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
)

// onvifsrv's snapshot URL, as its GetSnapshotUri answers it: no
// authentication, like many cameras'.
func TestFromURLOnvifCamera(t *testing.T) {
	t.Parallel()
	cam, err := onvifsrv.Start(ctxT(t), onvifsrv.Options{
		Username: "admin", Password: "secret", // the ONVIF calls'; the snapshot URL needs none
		Profiles: []onvifsrv.Profile{{Token: "main", StreamURI: "rtsp://127.0.0.1:1/cam1", Width: 640, Height: 360}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	u := "http://" + cam.Addr() + "/onvif/snapshot/main.jpg"
	g := New(Options{})
	jpg, err := g.FromURL(ctxT(t), "cam-1~1", u, "admin", "secret", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantJPEG(t, jpg, 640, 360)
	if g.ffmpegRuns.Load() != 0 {
		t.Error("ffmpeg ran for width 0")
	}
	jpg, err = g.FromURL(ctxT(t), "cam-1~1", u, "", "", 320)
	if err != nil {
		t.Fatal(err)
	}
	wantJPEG(t, jpg, 320, 180)

	_, err = g.FromURL(ctxT(t), "cam-1~2", "http://"+cam.Addr()+"/onvif/snapshot/nope.jpg", "", "", 0)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("unknown profile: %v, want a StatusError 404", err)
	}
}

// authCamera is a snapshot URL behind HTTP authentication. scheme is
// "basic" or a Digest variant: "md5" (qop=auth), "md5-noqop" (RFC 2069),
// "sha256".
type authCamera struct {
	scheme, user, pass string
	jpg                []byte

	mu       sync.Mutex
	requests int
	authz    []string // Authorization headers seen
	nonces   map[string]bool
}

var paramRE = regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))`)

func (c *authCamera) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	a := r.Header.Get("Authorization")
	if a != "" {
		c.authz = append(c.authz, a)
	}
	if c.ok(r.Method, a) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(c.jpg)
		return
	}
	if c.scheme == "basic" {
		w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
	} else {
		nonce := hex.EncodeToString([]byte(time.Now().String()))
		c.nonces[nonce] = true
		v := `Digest realm="cam", nonce="` + nonce + `", opaque="op"`
		switch c.scheme {
		case "md5":
			v += `, qop="auth", algorithm=MD5`
		case "sha256":
			v += `, qop="auth", algorithm=SHA-256`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// ok checks an Authorization header on its own terms (not the package's).
func (c *authCamera) ok(method, a string) bool {
	if c.scheme == "basic" {
		return a == "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass))
	}
	rest, found := strings.CutPrefix(a, "Digest ")
	if !found {
		return false
	}
	p := map[string]string{}
	for _, m := range paramRE.FindAllStringSubmatch(rest, -1) {
		p[m[1]] = m[2] + m[3]
	}
	var newHash func() hash.Hash = md5.New
	if c.scheme == "sha256" {
		newHash = sha256.New
	}
	h := func(s string) string { x := newHash(); x.Write([]byte(s)); return hex.EncodeToString(x.Sum(nil)) }
	if !c.nonces[p["nonce"]] || p["opaque"] != "op" || p["username"] != c.user || p["realm"] != "cam" {
		return false
	}
	ha1 := h(c.user + ":cam:" + c.pass)
	ha2 := h(method + ":" + p["uri"])
	want := h(ha1 + ":" + p["nonce"] + ":" + ha2)
	if c.scheme != "md5-noqop" {
		if p["qop"] != "auth" || p["nc"] != "00000001" || p["cnonce"] == "" {
			return false
		}
		want = h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	}
	return p["response"] == want && p["uri"] == "/snap.jpg?ch=1"
}

func startAuthCamera(t *testing.T, scheme string, jpg []byte) (*authCamera, string) {
	c := &authCamera{scheme: scheme, user: "admin", pass: "s3cret-Pa55", jpg: jpg, nonces: map[string]bool{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL + "/snap.jpg?ch=1"
}

func TestFromURLAuth(t *testing.T) {
	t.Parallel()
	jpg := testJPEG(t, 64, 48)
	for _, scheme := range []string{"md5", "md5-noqop", "sha256", "basic"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			cam, u := startAuthCamera(t, scheme, jpg)
			g := New(Options{CacheFor: -1})
			got, err := g.FromURL(ctxT(t), "k", u, cam.user, cam.pass, 0)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(jpg) {
				t.Fatal("not the camera's JPEG")
			}
			cam.mu.Lock()
			if cam.requests != 2 || len(cam.authz) != 1 {
				t.Errorf("%d requests, %d with Authorization: want the challenge, then one answer", cam.requests, len(cam.authz))
			}
			cam.mu.Unlock()

			// a wrong password: ErrUnauthorized, and no password in the error
			_, err = g.FromURL(ctxT(t), "k", u, cam.user, "wrong-Passw0rd", 0)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != 401 || strings.Contains(err.Error(), "wrong-Passw0rd") {
				t.Errorf("wrong password: %v", err)
			}
			// no credentials at all: one request, 401
			if _, err := g.FromURL(ctxT(t), "k", u, "", "", 0); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("no credentials: %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestFromURLScales(t *testing.T) {
	t.Parallel()
	cam, u := startAuthCamera(t, "md5", testJPEG(t, 800, 600))
	jpg, err := New(Options{}).FromURL(ctxT(t), "k", u, cam.user, cam.pass, 200)
	if err != nil {
		t.Fatal(err)
	}
	wantJPEG(t, jpg, 200, 150)
}

func TestFromURLBadAnswers(t *testing.T) {
	t.Parallel()
	jpg := testJPEG(t, 64, 48)
	big := append(append([]byte{}, jpg...), make([]byte, 4096)...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			w.Header().Set("Content-Type", "image/jpeg") // says so, is not
			w.Write([]byte("<html>login first</html>"))
		case "/octet":
			w.Header().Set("Content-Type", "application/octet-stream") // is, says not
			w.Write(jpg)
		case "/big": // with Content-Length
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/big-chunked":
			w.Write(big[:1000])
			w.(http.Flusher).Flush()
			w.Write(big[1000:])
		case "/500":
			http.Error(w, "oops", 500)
		case "/401-no-challenge":
			http.Error(w, "no", 401)
		}
	}))
	t.Cleanup(srv.Close)
	g := New(Options{MaxBytes: int64(len(jpg) + 100), CacheFor: -1})
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/html", ErrNotJPEG},
		{"/octet", nil},
		{"/big", ErrTooLarge},
		{"/big-chunked", ErrTooLarge},
		{"/500", &StatusError{Code: 500}},
		{"/401-no-challenge", ErrUnauthorized},
	} {
		_, err := g.FromURL(ctxT(t), "k", srv.URL+tc.path, "admin", "pw-XYZ", 0)
		t.Logf("%s: %v", tc.path, err)
		var se *StatusError
		switch want := tc.want.(type) {
		case nil:
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
		case *StatusError:
			if !errors.As(err, &se) || se.Code != want.Code {
				t.Errorf("%s: %v, want HTTP %d", tc.path, err, want.Code)
			}
		default:
			if !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", tc.path, err, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), "pw-XYZ") {
			t.Errorf("%s: the password in %q", tc.path, err)
		}
	}

	// URLs: not http, a password in the URL (kept out of errors), nobody there
	for _, u := range []string{"rtsp://cam/x", "http://admin:pw-XYZ@127.0.0.1:1/snap.jpg", "http://[::1%zz/pw-XYZ"} {
		_, err := g.FromURL(ctxT(t), "k", u, "", "", 0)
		t.Logf("%s: %v", u, err)
		if err == nil || strings.Contains(err.Error(), "pw-XYZ") {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, err := g.FromURL(ctxT(t), "k", srv.URL+"/octet", "", "", 8000); !errors.Is(err, ErrBadWidth) {
		t.Errorf("width 8000: %v", err)
	}

	// a camera that never answers: Timeout
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	start := time.Now()
	_, err := New(Options{Timeout: 200 * time.Millisecond}).FromURL(ctxT(t), "k", hang.URL, "", "", 0)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("hung camera: %v after %v", err, time.Since(start))
	}
}

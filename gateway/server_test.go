package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// These tests drive the HTTP surface that answers before any command reaches
// Devices (routing, auth, validation, problems, health). The device paths
// end to end are tested against the real actors elsewhere.

const testAdminKey = "admin-secret-for-tests"

type logBuf struct{ bytes.Buffer }

func newTestServer(t *testing.T, ks *KeyStore) (*Server, *logBuf) {
	t.Helper()
	var lb logBuf
	s := New(Config{Keys: ks, AdminKey: testAdminKey, Node: "n1",
		Log: slog.New(slog.NewJSONHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return s, &lb
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("content type %q, body %s", ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	for _, f := range []string{"type", "title", "status", "detail"} {
		if _, ok := m[f]; !ok {
			t.Fatalf("problem lacks %s: %s", f, r.body)
		}
	}
	if int(m["status"].(float64)) != r.code {
		t.Fatalf("problem status %v != %d", m["status"], r.code)
	}
	return m
}

func do(t *testing.T, h http.Handler, method, path, key, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return resp{rec.Code, rec.Header(), rec.Body.Bytes()}
}

func TestHealthAndMetrics(t *testing.T) {
	s, _ := newTestServer(t, nil)
	h := s.Handler()
	if r := do(t, h, "GET", "/healthz", "", ""); r.code != 200 || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Fatalf("healthz %d %s", r.code, r.body)
	}
	r := do(t, h, "GET", "/readyz", "", "")
	if r.code != 503 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("readyz without devices %d %s", r.code, r.body)
	}
	if m := r.problem(t); m["clickhouse"] != "absent" {
		t.Fatalf("readyz body %s", r.body)
	}
	r = do(t, h, "GET", "/metrics", "", "")
	if r.code != 200 || !strings.Contains(string(r.body), `argus_http_requests_total{code="200",method="GET",route="/healthz"}`) ||
		!strings.Contains(string(r.body), "argus_http_request_seconds_bucket") {
		t.Fatalf("metrics %d %s", r.code, r.body)
	}
}

func TestEchoErrorsAreProblems(t *testing.T) {
	s, _ := newTestServer(t, nil)
	s.e.GET("/test/panic", func(echo.Context) error { panic("boom") })
	h := s.Handler()

	r := do(t, h, "GET", "/nope", "", "")
	if r.code != 404 {
		t.Fatalf("unknown route %d", r.code)
	}
	r.problem(t)
	r = do(t, h, "PUT", "/v1/devices", testAdminKey, `{}`)
	if r.code != 405 {
		t.Fatalf("PUT /v1/devices %d", r.code)
	}
	r.problem(t)
	r = do(t, h, "GET", "/test/panic", "", "")
	if r.code != 500 {
		t.Fatalf("panic %d", r.code)
	}
	r.problem(t)

	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	r = do(t, h, "POST", "/v1/devices", testAdminKey, big)
	if r.code != 413 || r.problem(t)["field"] != "body" {
		t.Fatalf("big body %d %s", r.code, r.body)
	}
	// Without Content-Length the limit still holds while reading.
	req := httptest.NewRequest("POST", "/v1/devices", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("chunked big body %d %s", rec.Code, rec.Body)
	}
}

func TestAuth(t *testing.T) {
	ks, _ := newKeyStore(t, testNATS(t))
	s, logs := newTestServer(t, ks)
	h := s.Handler()

	r := do(t, h, "GET", "/v1/devices", "", "")
	if r.code != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no key %d %v", r.code, r.header)
	}
	r.problem(t)
	r = do(t, h, "GET", "/v1/devices", "ak_0000000000000000000000000000000000000000", "")
	if r.code != 401 {
		t.Fatalf("unknown key %d", r.code)
	}
	r = do(t, h, "GET", "/v1/devices", "", "", "Authorization", "Basic "+testAdminKey)
	if r.code != 401 {
		t.Fatalf("basic auth %d", r.code)
	}

	// Admin creates a viewer key; the key is only in the creation answer.
	r = do(t, h, "POST", "/v1/keys", testAdminKey, `{"name":"dash","role":"viewer"}`)
	if r.code != 201 {
		t.Fatalf("create key %d %s", r.code, r.body)
	}
	var created map[string]string
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	viewer := created["key"]
	if !keyFormat.MatchString(viewer) || created["role"] != "viewer" || created["id"] == "" || created["created_at"] == "" {
		t.Fatalf("created %s", r.body)
	}
	r = do(t, h, "GET", "/v1/keys", testAdminKey, "")
	if r.code != 200 || strings.Contains(string(r.body), viewer) || !strings.Contains(string(r.body), created["id"]) {
		t.Fatalf("list keys %d %s", r.code, r.body)
	}

	// Viewer: reads pass auth (503: no Devices here), commands and keys are 403.
	if r = do(t, h, "GET", "/v1/devices", viewer, ""); r.code != 503 {
		t.Fatalf("viewer list %d %s", r.code, r.body)
	}
	if r = do(t, h, "POST", "/v1/devices", viewer, `{"name":"c","url":"rtsp://h/"}`); r.code != 403 {
		t.Fatalf("viewer create %d", r.code)
	}
	r.problem(t)
	if r = do(t, h, "GET", "/v1/keys", viewer, ""); r.code != 403 {
		t.Fatalf("viewer list keys %d", r.code)
	}

	// Bad key requests.
	for body, field := range map[string]string{
		`{"name":"x","role":"root"}`:         "role",
		`{"name":"x"}`:                       "role",
		`{"role":"viewer"}`:                  "name",
		`{"name":"x","role":"viewer","a":1}`: "a",
		`{`:                                  "body",
	} {
		r = do(t, h, "POST", "/v1/keys", testAdminKey, body)
		if r.code != 400 || r.problem(t)["field"] != field {
			t.Errorf("%s: %d %s", body, r.code, r.body)
		}
	}

	// Delete → the key stops working.
	if r = do(t, h, "DELETE", "/v1/keys/"+created["id"], testAdminKey, ""); r.code != 204 {
		t.Fatalf("delete key %d %s", r.code, r.body)
	}
	if r = do(t, h, "GET", "/v1/devices", viewer, ""); r.code != 401 {
		t.Fatalf("deleted key %d", r.code)
	}
	if r = do(t, h, "DELETE", "/v1/keys/"+created["id"], testAdminKey, ""); r.code != 404 {
		t.Fatalf("delete again %d", r.code)
	}

	// Keys and passwords never reach the log.
	for _, secret := range []string{viewer, testAdminKey, viewer[3:]} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log holds a secret:\n%s", logs.String())
		}
	}
}

func TestRequestIDs(t *testing.T) {
	s, logs := newTestServer(t, nil)
	h := s.Handler()
	r := do(t, h, "GET", "/healthz", "", "", "X-Request-Id", "trace-abc.1_2")
	if r.header.Get("X-Request-Id") != "trace-abc.1_2" {
		t.Fatalf("request id not echoed: %v", r.header)
	}
	if !strings.Contains(logs.String(), `"request_id":"trace-abc.1_2"`) {
		t.Fatalf("request id not logged: %s", logs.String())
	}
	r = do(t, h, "GET", "/healthz", "", "", "X-Request-Id", "bad id; drop table")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("insane request id kept: %q", got)
	}
	r = do(t, h, "GET", "/healthz", "", "")
	if r.header.Get("X-Request-Id") == "" {
		t.Fatal("no request id generated")
	}
}

func TestDeviceValidationBeforeDevices(t *testing.T) {
	s, logs := newTestServer(t, nil)
	h := s.Handler()
	cases := []struct {
		method, path, body string
		hdr                []string
		code               int
		field              string
	}{
		{"POST", "/v1/devices", `{"id":"a.b","name":"c","url":"rtsp://h/"}`, nil, 400, "id"},
		{"POST", "/v1/devices", `{"id":"*","name":"c","url":"rtsp://h/"}`, nil, 400, "id"},
		{"POST", "/v1/devices", `{"id":">","name":"c","url":"rtsp://h/"}`, nil, 400, "id"},
		{"POST", "/v1/devices", `{"id":"a b","name":"c","url":"rtsp://h/"}`, nil, 400, "id"},
		{"POST", "/v1/devices", `{"id":"` + strings.Repeat("a", 64) + `","name":"c","url":"rtsp://h/"}`, nil, 400, "id"},
		{"POST", "/v1/devices", `{"name":"c","url":"http://h/"}`, nil, 400, "url"},
		{"POST", "/v1/devices", `{"name":"c","url":"rtsp://u:hunter2@h/","channels":65}`, nil, 400, "channels"},
		{"POST", "/v1/devices", `{"name":"c","url":"rtsp://h/","labels":{"bad key":"v"}}`, nil, 400, "labels.bad key"},
		{"POST", "/v1/devices", `{"name":"c","url":"rtsp://h/","colour":"red"}`, nil, 400, "colour"},
		{"POST", "/v1/devices", `{"name":"c",`, nil, 400, "body"},
		{"POST", "/v1/devices", `{"name":"c","url":"rtsp://h/"}`, []string{"Content-Type", "text/plain"}, 415, "Content-Type"},
		{"GET", "/v1/devices/a.b", "", nil, 400, "id"},
		{"GET", "/v1/devices/%2A", "", nil, 400, "id"},
		{"GET", "/v1/devices/a%20b", "", nil, 400, "id"},
		{"GET", "/v1/devices/" + strings.Repeat("a", 64), "", nil, 400, "id"},
		{"GET", "/v1/devices/a.b/events", "", nil, 400, "id"},
		{"DELETE", "/v1/devices/%3E", "", nil, 400, "id"},
		{"PATCH", "/v1/devices/cam1", `{}`, nil, 400, "body"},
		{"PATCH", "/v1/devices/cam1", `{"name":"x"}`, []string{"If-Match", `W/"1"`}, 400, "If-Match"},
		{"PATCH", "/v1/devices/a.b", `{"name":"x"}`, nil, 400, "id"},
		{"GET", "/v1/devices?limit=0", "", nil, 400, "limit"},
		{"GET", "/v1/devices?limit=1001", "", nil, 400, "limit"},
		{"GET", "/v1/devices?limit=x", "", nil, 400, "limit"},
		{"GET", "/v1/devices?label=nocolon", "", nil, 400, "label"},
		{"GET", "/v1/devices?cursor=a.b", "", nil, 400, "cursor"},
		{"GET", "/v1/devices?status=broken", "", nil, 400, "status"},
		{"GET", "/v1/devices?status=online&status=offline", "", nil, 400, "status"},
		// Valid requests reach the (absent) Devices: 503 + Retry-After.
		{"POST", "/v1/devices", `{"name":"c","url":"rtsp://h/"}`, nil, 503, ""},
		{"GET", "/v1/devices/cam1", "", nil, 503, ""},
		{"GET", "/v1/devices?limit=1000&label=site:paris", "", nil, 503, ""},
	}
	for _, c := range cases {
		r := do(t, h, c.method, c.path, testAdminKey, c.body, c.hdr...)
		if r.code != c.code {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, r.code, r.body, c.code)
			continue
		}
		m := r.problem(t)
		if c.field != "" && m["field"] != c.field {
			t.Errorf("%s %s %s: field %v, want %q", c.method, c.path, c.body, m["field"], c.field)
		}
		if c.code == 503 && r.header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Fatalf("password in log: %s", logs.String())
	}
}

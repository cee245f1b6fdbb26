package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/gateway/openapi"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every exchange an e2e test makes through (*testenv.Node).Do with a /v1
// path is checked against the OpenAPI description (gateway/openapi):
//
//   - the answer (status, headers, body) must match its operation; errors
//     must be application/problem+json Problems;
//   - a request the description calls invalid must not be accepted (2xx/3xx):
//     tests send invalid requests on purpose, so a 4xx answer to one is fine;
//   - a path the description does not know must be answered 404 or 405 as a
//     problem.
//
// Set ARGUS_OPENAPI_LOG=<file> to append one line per exchange checked.
func init() { testenv.CheckExchange = checkOpenAPI }

func init() {
	for _, ct := range []string{"text/event-stream", "video/mp4", "application/vnd.apple.mpegurl", "image/jpeg"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	doc.Servers = nil // any host
	return gorillamux.NewRouter(doc)
})

var openAPIChecked, openAPIUnrouted atomic.Int64

var openAPILog = struct {
	sync.Mutex
	f *os.File
}{}

func logExchange(format string, args ...any) {
	name := os.Getenv("ARGUS_OPENAPI_LOG")
	if name == "" {
		return
	}
	openAPILog.Lock()
	defer openAPILog.Unlock()
	if openAPILog.f == nil {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		openAPILog.f = f
	}
	fmt.Fprintf(openAPILog.f, format+"\n", args...)
}

func checkOpenAPI(t testing.TB, req *http.Request, reqBody []byte, status int, hdr http.Header, body []byte) {
	t.Helper()
	if req == nil || status == 0 || !strings.HasPrefix(req.URL.Path, "/v1/") {
		return
	}
	router, err := openAPIRouter()
	if err != nil {
		t.Errorf("openapi: %v", err)
		return
	}
	ctx := context.Background()
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	what := req.Method + " " + req.URL.RequestURI()

	route, params, err := router.FindRoute(r)
	if err != nil {
		openAPIUnrouted.Add(1)
		logExchange("unrouted %d %s", status, what)
		mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
		if (status != http.StatusNotFound && status != http.StatusMethodNotAllowed) || mt != "application/problem+json" {
			t.Errorf("openapi: %s → %d (%s): the description has no such operation (%v)", what, status, hdr.Get("Content-Type"), err)
		}
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	reqValid := "valid"
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		reqValid = "invalid"
		if status < 400 {
			t.Errorf("openapi: %s %s → %d: the description calls the request invalid, the server accepted it: %v", route.Method, route.Path, status, err)
		}
	}
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: hdr, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("openapi: %s %s (%s) → %d: the answer does not match the description: %v\nbody: %.500s", route.Method, route.Path, what, status, err, body)
	}
	openAPIChecked.Add(1)
	logExchange("checked %d %s %s request=%s", status, route.Method, route.Path, reqValid)
}

// TestOpenAPIOtherRoutes makes the exchanges no other e2e test makes, so
// that their answers are checked against the description too (by the hook
// above): the description itself, key listing, cluster and projection
// status, the audit, a playback token, device history and event filters.
func TestOpenAPIOtherRoutes(t *testing.T) {
	ch := testenv.ClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr()})
	before := openAPIChecked.Load()
	expect := func(method, path, body string, want int) []byte {
		t.Helper()
		st, _, b := n.Do(method, path, "", body)
		if st != want {
			t.Errorf("%s %s = %d, want %d: %s", method, path, st, want, b)
		}
		return b
	}
	if st, hdr, _ := n.Do("GET", "/v1/openapi.json", "-", ""); st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("GET /v1/openapi.json without a key = %d %q", st, hdr.Get("Content-Type"))
	}
	expect("POST", "/v1/devices", `{"id":"oa-1","name":"OpenAPI","url":"rtsp://user:pw@cam.example/s1?x=1","channels":2,"labels":{"site":"hq"}}`, 201)
	expect("GET", "/v1/devices?limit=1&label=site:hq", "", 200)
	expect("PATCH", "/v1/devices/oa-1", `{"username":null,"labels":{"site":null,"floor":"2"}}`, 200)
	expect("GET", "/v1/devices/oa-1/events?limit=10", "", 200)
	expect("GET", "/v1/events?kind=device&aggregate=oa-1&limit=5", "", 200)
	expect("PUT", "/v1/devices/oa-1/channels/2/plan", `{"mode":"schedule","schedule":[{"days":["mon","tue"],"start":"08:00","end":"18:00"}],"timezone":"UTC","segment_seconds":60,"retention_days":7}`, 200)
	expect("GET", "/v1/devices/oa-1/channels/2/plan", "", 200)
	now := time.Now().UTC()
	w := "from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339))
	expect("GET", "/v1/devices/oa-1/channels/1/playback?start="+url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339))+"&ttl=60", "", 200)
	expect("GET", "/v1/streams?scope=node", "", 200)
	expect("POST", "/v1/keys", `{"name":"oa","role":"viewer"}`, 201)
	expect("GET", "/v1/keys", "", 200)
	expect("GET", "/v1/cluster", "", 200)
	expect("POST", "/v1/projections/no-such-projector/rebuild", "", 404)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, b := n.Do("GET", "/v1/projections", "", "")
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/projections: %d %s", st, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range []string{"/v1/analytics/audit?" + w + "&limit=10", "/v1/analytics/uptime?" + w + "&device=oa-1", "/v1/analytics/recordings?" + w + "&group_by=day"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, _, b := n.Do("GET", p, "", "")
			if st == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %d %s", p, st, b)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for i := range 2 { // the second answer is the first one replayed
		st, hdr, b := n.Do("POST", "/v1/devices", "", `{"id":"oa-2","name":"again","url":"rtsp://cam.example/s2"}`, "Idempotency-Key", "oa key 1")
		if st != 201 || (i == 1) != (hdr.Get("Idempotent-Replayed") == "true") {
			t.Errorf("POST /v1/devices with Idempotency-Key, try %d: %d %q %s", i+1, st, hdr.Get("Idempotent-Replayed"), b)
		}
	}
	expect("DELETE", "/v1/devices/oa-1", "", 204)
	if got := openAPIChecked.Load() - before; got < 18 {
		t.Errorf("only %d exchanges were checked against the description", got)
	}
}

package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/argus-vms/argus/gateway/openapi"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// loadSpec parses and validates the embedded OpenAPI document.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPISpecValid(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	// Every operation answers errors as problem+json (a default response).
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s: no operationId", method, path)
			}
			def := op.Responses.Default()
			if def == nil || def.Value.Content.Get(ProblemContentType) == nil {
				t.Errorf("%s %s: no default application/problem+json response", method, path)
			}
			if strings.HasPrefix(path, "/v1/") && path != "/v1/openapi.json" {
				if role, _ := op.Extensions["x-argus-role"].(string); role == "" || !strings.Contains(op.Description, "Role: **"+role+"**") {
					t.Errorf("%s %s: the role is not named (x-argus-role and the description)", method, path)
				}
			}
		}
	}
}

// echoParam turns echo's :name and * into OpenAPI's {name}.
var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// specPath is the OpenAPI template of an echo route path; the names of the
// parameters do not matter (an OpenAPI template is matched by its shape).
func specShape(p string) string {
	p = echoParam.ReplaceAllString(p, "{}")
	p = strings.ReplaceAll(p, "*", "{}")
	return regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(p, "{}")
}

// notInSpec says which routes are deliberately left out of the
// description: the web console (console.go: / redirecting to /console/, and
// its static files) is not API.
func notInSpec(path string) bool {
	return path == "/" || path == "/console" || strings.HasPrefix(path, "/console/")
}

// TestOpenAPICoversEveryRoute: every route the gateway registers is an
// operation of the description, and every operation a registered route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	s := New(Config{AdminKey: testAdminKey, Node: "n1", Log: quietLog})

	spec := map[string]string{} // "GET /v1/devices/{}" → the spec's path
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec[method+" "+specShape(path)] = path
		}
	}
	routes := map[string]string{}
	for _, r := range s.e.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			continue // echo's RouteNotFound entries of groups
		}
		if notInSpec(r.Path) {
			continue
		}
		routes[r.Method+" "+specShape(r.Path)] = r.Path
	}
	if len(routes) < 30 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for k, p := range routes {
		if _, ok := spec[k]; !ok {
			t.Errorf("route %s (echo path %s) is not described in gateway/openapi/openapi.json", k, p)
		}
	}
	for k, p := range spec {
		if _, ok := routes[k]; !ok {
			t.Errorf("operation %s (%s) in openapi.json is not a route of the gateway", k, p)
		}
	}
}

// TestOpenAPIServed: the description and the docs page need no key; the
// page has no inline script and loads docs.js.
func TestOpenAPIServed(t *testing.T) {
	doc := loadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{AdminKey: testAdminKey, Node: "n1", Log: quietLog}).Handler()
	get := func(path string) *http.Response {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Result()
	}

	res := get("/v1/openapi.json")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || string(body) != string(openapi.Spec) {
		t.Fatalf("GET /v1/openapi.json = %d %q (%d bytes)", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}

	res = get("/docs")
	body, _ = io.ReadAll(res.Body)
	page := string(body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(page, `<script src="/docs/docs.js"`) {
		t.Errorf("/docs does not load docs.js:\n%s", page)
	}
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script>`).FindAllStringSubmatch(page, -1) {
		if strings.TrimSpace(m[1]) != "" || !strings.Contains(m[0], "src=") {
			t.Errorf("/docs has an inline script: %s", m[0])
		}
	}
	if regexp.MustCompile(`(?i)<style|\son[a-z]+=|javascript:`).MatchString(page) {
		t.Errorf("/docs has inline style or event handlers")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("/docs CSP = %q", csp)
	}
	for path, ct := range map[string]string{"/docs/docs.js": "text/javascript", "/docs/docs.css": "text/css"} {
		res := get(path)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) || len(b) == 0 {
			t.Errorf("GET %s = %d %q (%d bytes)", path, res.StatusCode, res.Header.Get("Content-Type"), len(b))
		}
	}
	if res := get("/docs/openapi.json"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs/openapi.json = %d, want 404", res.StatusCode)
	}

	// A few answers of this node checked against the description.
	for _, c := range []struct {
		method, path string
		key          string
		status       int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 503},
		{"GET", "/v1/openapi.json", "", 200},
		{"GET", "/v1/devices", "", 401},
		{"GET", "/v1/devices", testAdminKey, 503},
		{"GET", "/v1/devices/Bad!", testAdminKey, 400},
		{"GET", "/v1/keys", testAdminKey, 200},
		{"GET", "/v1/cluster", testAdminKey, 503},
		{"POST", "/v1/devices", testAdminKey, 400},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode != c.status {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, res.StatusCode, c.status)
			continue
		}
		vreq := httptest.NewRequest(c.method, c.path, nil)
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
		body, _ := io.ReadAll(res.Body)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: in.Options}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s → %d does not match the description: %v\n%s", c.method, c.path, res.StatusCode, err, body)
		}
	}
}

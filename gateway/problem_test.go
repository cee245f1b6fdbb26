package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestProblemJSONShape(t *testing.T) {
	p := badRequest("url", "url must use the rtsp or rtsps scheme")
	p.Extensions = map[string]any{"clickhouse": "down", "status": "overridden?"}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "about:blank", "title": "Bad Request", "status": float64(400),
		"detail": "url must use the rtsp or rtsps scheme", "field": "url", "clickhouse": "down",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("members = %v", m)
	}
	// No field member when there is none.
	b, _ = json.Marshal(problem(http.StatusNotFound, "", "no such device"))
	if strings.Contains(string(b), `"field"`) {
		t.Errorf("unexpected field member: %s", b)
	}
}

func TestEchoErrorsBecomeProblems(t *testing.T) {
	cases := []struct {
		err    error
		status int
		field  string
	}{
		{echo.ErrNotFound, 404, ""},
		{echo.ErrMethodNotAllowed, 405, ""},
		{echo.ErrStatusRequestEntityTooLarge, 413, "body"},
		{echo.NewHTTPError(400, "bad"), 400, ""},
		{badRequest("id", "x"), 400, "id"},
	}
	for _, c := range cases {
		p, known := toProblem(c.err)
		if !known || p.Status != c.status || p.Field != c.field || p.Title != http.StatusText(c.status) {
			t.Errorf("%v → %+v known=%v", c.err, p, known)
		}
	}
	p, known := toProblem(errString("boom: secret"))
	if known || p.Status != 500 || strings.Contains(p.Detail, "secret") {
		t.Errorf("unexpected error → %+v known=%v", p, known)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestDecodeStrictErrors(t *testing.T) {
	cases := []struct {
		body, field string
	}{
		{``, "body"},
		{`   `, "body"},
		{`{`, "body"},
		{`{"name": "x",}`, "body"},
		{`not json`, "body"},
		{`{"name":"a"} {"name":"b"}`, "body"},
		{`[1,2]`, "body"},
		{`{"nmae":"x"}`, "nmae"},
		{`{"name":"x","extra":1}`, "extra"},
		{`{"channels":"two"}`, "channels"},
		{`{"channels":1.5}`, "channels"},
		{`{"name":5}`, "name"},
		{`{"labels":[]}`, "labels"},
	}
	for _, c := range cases {
		var req createDeviceRequest
		p := decodeStrict([]byte(c.body), &req)
		if p == nil {
			t.Errorf("%q: no problem", c.body)
			continue
		}
		if p.Status != 400 || p.Field != c.field {
			t.Errorf("%q: status %d field %q (%s), want 400 %q", c.body, p.Status, p.Field, p.Detail, c.field)
		}
	}
	var req createDeviceRequest
	if p := decodeStrict([]byte(`{"name":"cam","url":"rtsp://h/"}`), &req); p != nil {
		t.Fatalf("valid body: %v", p)
	}
}

func TestIsJSONType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/merge-patch+json":      true,
		"text/plain":                        false,
		"application/x-www-form-urlencoded": false,
	} {
		if isJSONType(ct) != want {
			t.Errorf("isJSONType(%q) != %v", ct, want)
		}
	}
}

// Members are matched by their exact names: encoding/json alone would take
// "NAME" for "name". Unprintable names are not echoed.
func TestDecodeStrictExactMembers(t *testing.T) {
	type window struct {
		Start string `json:"start"`
	}
	type body struct {
		Name     string            `json:"name"`
		Windows  []window          `json:"windows"`
		Labels   map[string]string `json:"labels"`
		Optional *string           `json:"optional"`
	}
	for in, field := range map[string]string{
		`{"NAME":"x"}`:                     "NAME",
		`{"name":"a","Name":"b"}`:          "Name",
		`{"windows":[{"START":"08:00"}]}`:  "windows.0.START",
		`{"":1}`:                           "body",
		`{"\u0000x":1}`:                    "body",
		`{"name":"ok","labels":{"K":"v"}}`: "",
		`{"optional":null,"windows":null}`: "",
	} {
		var b body
		p := decodeStrict([]byte(in), &b)
		switch {
		case field == "" && p != nil:
			t.Errorf("%s: refused: %+v", in, p)
		case field != "" && (p == nil || p.Field != field):
			t.Errorf("%s: %+v, want a problem naming %q", in, p, field)
		}
	}
}

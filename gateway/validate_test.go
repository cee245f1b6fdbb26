package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

func TestParseIfMatch(t *testing.T) {
	cases := []struct {
		in      []string
		version uint64
		set     bool
		bad     bool
	}{
		{nil, 0, false, false},
		{[]string{`"3"`}, 3, true, false},
		{[]string{`3`}, 3, true, false},
		{[]string{` "42" `}, 42, true, false},
		{[]string{`*`}, 0, false, false},
		{[]string{`"0"`}, 0, true, false},
		{[]string{`W/"3"`}, 0, false, true},
		{[]string{`w/"3"`}, 0, false, true},
		{[]string{`"3`}, 0, false, true},
		{[]string{`3"`}, 0, false, true},
		{[]string{`""`}, 0, false, true},
		{[]string{`"abc"`}, 0, false, true},
		{[]string{`"-1"`}, 0, false, true},
		{[]string{`"+1"`}, 0, false, true},
		{[]string{`"1", "2"`}, 0, false, true},
		{[]string{`"1"`, `"2"`}, 0, false, true},
		{[]string{`"99999999999999999999999"`}, 0, false, true},
	}
	for _, c := range cases {
		h := http.Header{}
		for _, v := range c.in {
			h.Add("If-Match", v)
		}
		v, set, p := parseIfMatch(h)
		if c.bad {
			if p == nil || p.Status != 400 || p.Field != "If-Match" {
				t.Errorf("%q: want 400 If-Match, got %v", c.in, p)
			}
			continue
		}
		if p != nil || v != c.version || set != c.set {
			t.Errorf("%q: got %d %v %v, want %d %v", c.in, v, set, p, c.version, c.set)
		}
	}
}

func TestParseDeviceURL(t *testing.T) {
	cases := []struct {
		in, url, user, pass string
		hasUser, hasPass    bool
		bad                 bool
	}{
		{in: "rtsp://cam.local:554/stream1", url: "rtsp://cam.local:554/stream1"},
		{in: "rtsps://10.0.0.5/live?ch=1&sub=0", url: "rtsps://10.0.0.5/live?ch=1&sub=0"},
		{in: "RTSP://cam/x", url: "rtsp://cam/x"},
		{in: "rtsp://admin:s3cr%40t@cam:554/s", url: "rtsp://cam:554/s", user: "admin", pass: "s3cr@t", hasUser: true, hasPass: true},
		{in: "rtsp://admin@cam/s", url: "rtsp://cam/s", user: "admin", hasUser: true},
		{in: "rtsp://[::1]:8554/live", url: "rtsp://[::1]:8554/live"},
		{in: "", bad: true},
		{in: "http://cam/x", bad: true},
		{in: "cam/x", bad: true},
		{in: "rtsp:cam", bad: true},
		{in: "rtsp:///path", bad: true},
		{in: "rtsp://u:p@/path", bad: true},
		{in: "rtsp://cam:99999/x", bad: true},
		{in: "rtsp://ca m/x", bad: true},
		{in: "rtsp://cam/\x00", bad: true},
		{in: "rtsp://cam/" + strings.Repeat("a", maxURLLen), bad: true},
	}
	for _, c := range cases {
		u, p := parseDeviceURL(c.in)
		if c.bad {
			if p == nil || p.Field != "url" || p.Status != 400 {
				t.Errorf("%q: want 400 url, got %+v %v", c.in, u, p)
			}
			continue
		}
		if p != nil {
			t.Errorf("%q: %v", c.in, p)
			continue
		}
		if u.URL != c.url || u.Username != c.user || u.Password != c.pass || u.HasUser != c.hasUser || u.HasPassword != c.hasPass {
			t.Errorf("%q: got %+v", c.in, u)
		}
	}
	// A bad URL's detail never echoes the URL (it may carry a password).
	if _, p := parseDeviceURL("rtsp://u:hunter2@ca m/"); p == nil || strings.Contains(p.Detail, "hunter2") {
		t.Errorf("detail leaks: %v", p)
	}
}

func TestCheckLabels(t *testing.T) {
	ok := []map[string]string{
		nil,
		{"site": "paris"},
		{"A": ""},
		{"app.kubernetes.io/name": "x", "a-b_c": strings.Repeat("v", 255)},
		{strings.Repeat("k", 63): "v"},
	}
	for _, l := range ok {
		if p := checkLabels(l); p != nil {
			t.Errorf("%v: %v", l, p)
		}
	}
	bad := []struct {
		labels map[string]string
		field  string
	}{
		{map[string]string{"": "v"}, "labels."},
		{map[string]string{"-x": "v"}, "labels.-x"},
		{map[string]string{"a b": "v"}, "labels.a b"},
		{map[string]string{"a:b": "v"}, "labels.a:b"},
		{map[string]string{strings.Repeat("k", 64): "v"}, "labels." + strings.Repeat("k", 64)},
		{map[string]string{strings.Repeat("k", 200): "v"}, "labels"},
		{map[string]string{"site": strings.Repeat("v", 256)}, "labels.site"},
		{map[string]string{"site": "a\nb"}, "labels.site"},
		{map[string]string{"b": "ok", "a": strings.Repeat("v", 256)}, "labels.a"},
	}
	for _, c := range bad {
		p := checkLabels(c.labels)
		if p == nil || p.Status != 400 || p.Field != c.field {
			t.Errorf("%v: want field %q, got %v", c.labels, c.field, p)
		}
	}
	many := map[string]string{}
	for i := 0; i < 65; i++ {
		many[string(rune('a'+i%26))+strings.Repeat("x", i)] = "v"
	}
	if p := checkLabels(many); p == nil || p.Field != "labels" {
		t.Errorf("65 labels: %v", p)
	}
}

func TestSanitizeRequestID(t *testing.T) {
	for in, want := range map[string]string{
		"abc-123_X.y":            "abc-123_X.y",
		strings.Repeat("a", 128): strings.Repeat("a", 128),
		strings.Repeat("a", 129): "",
		"":                       "",
		"has space":              "",
		"new\nline":              "",
		"semi;colon":             "",
		"ünï":                    "",
	} {
		if got := sanitizeRequestID(in); got != want {
			t.Errorf("sanitizeRequestID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewDeviceID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := newDeviceID()
		if !events.ValidID(id) || len(id) != 16 || !strings.HasPrefix(id, "dev-") {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestParseLabelFilter(t *testing.T) {
	if k, v, p := parseLabelFilter("site:paris:north"); p != nil || k != "site" || v != "paris:north" {
		t.Errorf("got %q %q %v", k, v, p)
	}
	for _, s := range []string{"site", ":x", "a b:c", ""} {
		if _, _, p := parseLabelFilter(s); p == nil || p.Field != "label" {
			t.Errorf("%q: %v", s, p)
		}
	}
}

func TestRegisterCommand(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	// userinfo moves out of the url; explicit fields win.
	cmd, p := registerCommand(&createDeviceRequest{Name: str("cam"), URL: str("rtsp://u:p@cam/s"), Password: str("explicit")})
	if p != nil {
		t.Fatal(p)
	}
	if cmd.Url != "rtsp://cam/s" || cmd.Username != "u" || cmd.Password != "explicit" || cmd.Channels != 1 || !events.ValidID(cmd.Id) {
		t.Errorf("got %+v", cmd)
	}
	bad := []struct {
		req   createDeviceRequest
		field string
	}{
		{createDeviceRequest{URL: str("rtsp://cam/")}, "name"},
		{createDeviceRequest{Name: str("  "), URL: str("rtsp://cam/")}, "name"},
		{createDeviceRequest{Name: str(strings.Repeat("n", 201)), URL: str("rtsp://cam/")}, "name"},
		{createDeviceRequest{Name: str("cam")}, "url"},
		{createDeviceRequest{Name: str("cam"), URL: str("http://cam/")}, "url"},
		{createDeviceRequest{ID: str(""), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str("a.b"), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str("*"), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str(">"), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str("a b"), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str("Cam1"), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{ID: str(strings.Repeat("a", 64)), Name: str("cam"), URL: str("rtsp://cam/")}, "id"},
		{createDeviceRequest{Name: str("cam"), URL: str("rtsp://cam/"), Channels: num(0)}, "channels"},
		{createDeviceRequest{Name: str("cam"), URL: str("rtsp://cam/"), Channels: num(65)}, "channels"},
		{createDeviceRequest{Name: str("cam"), URL: str("rtsp://cam/"), Labels: map[string]json.RawMessage{"site": []byte("5")}}, "labels.site"},
		{createDeviceRequest{Name: str("cam"), URL: str("rtsp://cam/"), Labels: map[string]json.RawMessage{"site": []byte("null")}}, "labels.site"},
		{createDeviceRequest{Name: str("cam"), URL: str("rtsp://cam/"), Labels: map[string]json.RawMessage{"a.b c": []byte(`"x"`)}}, "labels.a.b c"},
	}
	for _, c := range bad {
		if _, p := registerCommand(&c.req); p == nil || p.Status != 400 || p.Field != c.field {
			t.Errorf("%+v: want field %q, got %v", c.req, c.field, p)
		}
	}
	if cmd, p := registerCommand(&createDeviceRequest{ID: str(strings.Repeat("a", 63)), Name: str("cam"), URL: str("rtsp://cam/"), Channels: num(64)}); p != nil || cmd.Channels != 64 {
		t.Errorf("63-char id, 64 channels: %v", p)
	}
}

func TestUpdateCommand(t *testing.T) {
	cmd, p := updateCommand("cam1", []byte(`{"name":"n","url":"rtsp://u:p@h/s","username":null,"channels":4,"labels":{"site":"x","old":null}}`))
	if p != nil {
		t.Fatal(p)
	}
	if cmd.GetName() != "n" || cmd.GetUrl() != "rtsp://h/s" || cmd.Username == nil || cmd.GetUsername() != "" ||
		cmd.GetPassword() != "p" || cmd.GetChannels() != 4 ||
		cmd.GetLabels().GetSet()["site"] != "x" || len(cmd.GetLabels().GetRemove()) != 1 || cmd.GetLabels().GetRemove()[0] != "old" {
		t.Errorf("got %v", cmd)
	}
	// Absent members stay absent.
	cmd, p = updateCommand("cam1", []byte(`{"channels":2}`))
	if p != nil || cmd.Name != nil || cmd.Url != nil || cmd.Username != nil || cmd.Password != nil || cmd.Labels != nil {
		t.Errorf("got %v %v", cmd, p)
	}
	bad := map[string]string{
		``:                            "body",
		`{}`:                          "body",
		`null`:                        "body",
		`[]`:                          "body",
		`"x"`:                         "body",
		`{"labels":{}}`:               "body",
		`{"nmae":"x"}`:                "nmae",
		`{"id":"other"}`:              "id",
		`{"name":null}`:               "name",
		`{"name":""}`:                 "name",
		`{"name":7}`:                  "name",
		`{"url":null}`:                "url",
		`{"url":"ftp://h/"}`:          "url",
		`{"channels":null}`:           "channels",
		`{"channels":0}`:              "channels",
		`{"channels":"2"}`:            "channels",
		`{"labels":null}`:             "labels",
		`{"labels":"x"}`:              "labels",
		`{"labels":{"site":1}}`:       "labels.site",
		`{"labels":{"bad key":"v"}}`:  "labels.bad key",
		`{"labels":{"bad key":null}}`: "labels.bad key",
		`{"name":"x"} trailing`:       "body",
	}
	for body, field := range bad {
		if _, p := updateCommand("cam1", []byte(body)); p == nil || p.Status != 400 || p.Field != field {
			t.Errorf("%q: want field %q, got %v", body, field, p)
		}
	}
}

func TestDeviceViewNeverHasPassword(t *testing.T) {
	v := deviceView(&pb.DeviceView{Id: "cam1", Name: "c", Url: "rtsp://h/", Username: "u", Channels: 1, Version: 3,
		CreatedAtUnixMs: 1700000000123, UpdatedAtUnixMs: 1700000000456})
	b, err := marshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"labels":{}`, `"status":"unknown"`, `"created_at":"2023-11-14T22:13:20.123Z"`, `"updated_at":"2023-11-14T22:13:20.456Z"`, `"username":"u"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(strings.ToLower(s), "password") {
		t.Errorf("view mentions a password: %s", s)
	}
	if etag(3) != `"3"` {
		t.Errorf("etag = %s", etag(3))
	}
}

package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Fuzz targets of the device request bodies: POST /v1/devices
// (decodeStrict + registerCommand) and PATCH /v1/devices/{id} (the JSON
// merge patch, updateCommand).

// knownMember reports whether member k is one of names, spelled exactly.
func knownMember(k string, names ...string) bool {
	for _, n := range names {
		if k == n {
			return true
		}
	}
	return false
}

// wantFieldProblem fails unless p is a 4xx problem that names a field.
func wantFieldProblem(t *testing.T, what string, p *Problem) {
	t.Helper()
	if p.Status < 400 || p.Status > 499 || p.Title != http.StatusText(p.Status) || p.Detail == "" {
		t.Fatalf("%s: bad problem %+v", what, p)
	}
	if p.Field == "" {
		t.Fatalf("%s: problem names no field: %+v", what, p)
	}
	if _, err := p.MarshalJSON(); err != nil {
		t.Fatalf("%s: problem does not encode: %v", what, err)
	}
}

// checkStoredURL fails unless u is a credential-free rtsp(s) URL with a host.
func checkStoredURL(t *testing.T, u string) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil || pu.User != nil || pu.Hostname() == "" || (pu.Scheme != "rtsp" && pu.Scheme != "rtsps") {
		t.Fatalf("command URL %q: not a credential-free rtsp URL (%v)", u, err)
	}
}

// FuzzRegisterCommand: a create body is accepted only as one JSON object of
// the known members; the command then has a valid id (the request's, or a
// generated one), a valid name, the URL without userinfo, the credentials
// of the explicit members else of the URL, 1..64 channels and valid
// labels, each as the body gave it. A refusal is a 400 naming a field.
func FuzzRegisterCommand(f *testing.F) {
	for _, s := range []string{
		`{"name":"cam","url":"rtsp://u:p@cam/s","password":"explicit"}`,
		`{"id":"cam-1","name":"Front door","url":"rtsps://10.0.0.5:322/live?ch=1","channels":4,"labels":{"site":"paris","app.kubernetes.io/name":"x"}}`,
		`{"id":"` + strings.Repeat("a", 63) + `","name":"c","url":"rtsp://cam/","channels":64}`,
		`{"name":"cam","url":"rtsp://cam/","username":"","password":""}`,
		`{"name":"cam","url":"rtsp://cam/","labels":{"site":5}}`,
		`{"name":"cam","url":"rtsp://cam/","labels":{"site":null}}`,
		`{"name":"cam","url":"rtsp://cam/","labels":{"a b":"x"}}`,
		`{"name":"cam","url":"rtsp://cam/","channels":65}`,
		`{"name":"cam","url":"rtsp://cam/","channels":1.5}`,
		`{"name":"cam","url":"http://cam/"}`,
		`{"name":"cam"}`, `{"url":"rtsp://cam/"}`, `{"id":"Cam","name":"c","url":"rtsp://cam/"}`,
		`{"name":"cam","url":"rtsp://cam/","nmae":"x"}`, `{"":1}`, `{"name":"\u0000"}`,
		`{"name":"cam","url":"rtsp://cam/"} {}`, `{"name":"cam",`, `[]`, `null`, `""`, ``, `   `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req createDeviceRequest
		p := decodeStrict(body, &req)
		var cmd *pb.RegisterDevice
		if p == nil {
			cmd, p = registerCommand(&req)
		}
		if p != nil {
			wantFieldProblem(t, "create", p)
			if p.Status != http.StatusBadRequest {
				t.Fatalf("create: status %d", p.Status)
			}
			return
		}
		// only a JSON object of the known members gets here
		var members map[string]json.RawMessage
		if err := json.Unmarshal(body, &members); err != nil || members == nil {
			t.Fatalf("accepted a body that is not an object: %q (%v)", body, err)
		}
		for k := range members {
			if !knownMember(k, "id", "name", "url", "username", "password", "channels", "labels") {
				t.Fatalf("accepted unknown member %q", k)
			}
		}
		if !events.ValidID(cmd.Id) || !idRule.MatchString(cmd.Id) {
			t.Fatalf("command id %q is not valid", cmd.Id)
		}
		if req.ID != nil && *req.ID != cmd.Id {
			t.Fatalf("command id %q, request %q", cmd.Id, *req.ID)
		}
		if req.Name == nil || cmd.Name != *req.Name || checkName(cmd.Name) != nil {
			t.Fatalf("command name %q", cmd.Name)
		}
		checkStoredURL(t, cmd.Url)
		u, up := parseDeviceURL(*req.URL)
		if up != nil || u.URL != cmd.Url {
			t.Fatalf("command URL %q, request URL parses as %+v %v", cmd.Url, u, up)
		}
		wantUser, wantPass := u.Username, u.Password // explicit members win
		if req.Username != nil {
			wantUser = *req.Username
		}
		if req.Password != nil {
			wantPass = *req.Password
		}
		if cmd.Username != wantUser || cmd.Password != wantPass {
			t.Fatalf("credentials %q/%q, want %q/%q", cmd.Username, cmd.Password, wantUser, wantPass)
		}
		if checkUsername(cmd.Username) != nil || checkPassword(cmd.Password) != nil {
			t.Fatalf("invalid credentials accepted")
		}
		if cmd.Channels < 1 || cmd.Channels > maxChannels || req.Channels != nil && int64(cmd.Channels) != *req.Channels {
			t.Fatalf("channels %d", cmd.Channels)
		}
		if len(cmd.Labels) != len(req.Labels) || checkLabels(cmd.Labels) != nil {
			t.Fatalf("labels %v from %v", cmd.Labels, req.Labels)
		}
		for k, raw := range req.Labels {
			var v string
			if json.Unmarshal(raw, &v) != nil || cmd.Labels[k] != v {
				t.Fatalf("label %q = %q, request %s", k, cmd.Labels[k], raw)
			}
		}
	})
}

// FuzzUpdateCommand: a device merge patch (RFC 7396) is accepted only as
// an object of known members that changes something; absent members stay
// nil, username/password null clear them, a label null removes it, the URL
// keeps no userinfo and its credentials apply unless given explicitly.
func FuzzUpdateCommand(f *testing.F) {
	for _, s := range []string{
		`{"name":"n","url":"rtsp://u:p@h/s","username":null,"channels":4,"labels":{"site":"x","old":null}}`,
		`{"channels":2}`, `{"password":"pw"}`, `{"password":null}`, `{"url":"rtsp://only-user@h/"}`,
		`{"url":"rtsp://u:p@h/","password":"explicit"}`, `{"labels":{"a":"x","a":null}}`,
		`{"name":"a","name":"b"}`, `{"labels":{"k":""}}`,
		``, `{}`, `null`, `[]`, `"x"`, `{"labels":{}}`, `{"nmae":"x"}`, `{"id":"other"}`, `{"name":null}`,
		`{"name":""}`, `{"name":7}`, `{"url":null}`, `{"url":"ftp://h/"}`, `{"channels":null}`, `{"channels":0}`,
		`{"channels":"2"}`, `{"labels":null}`, `{"labels":"x"}`, `{"labels":{"site":1}}`, `{"labels":{"bad key":"v"}}`,
		`{"labels":{"bad key":null}}`, `{"name":"x"} trailing`, `{"":1}`, `{"\u0000":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const id = "cam-1"
		cmd, p := updateCommand(id, body)
		if p != nil {
			wantFieldProblem(t, "patch", p)
			if p.Status != http.StatusBadRequest {
				t.Fatalf("patch: status %d", p.Status)
			}
			return
		}
		var patch map[string]json.RawMessage
		if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
			t.Fatalf("accepted a patch that is not an object: %q (%v)", body, err)
		}
		for k := range patch {
			if !patchFields[k] {
				t.Fatalf("accepted unknown member %q", k)
			}
		}
		if cmd.GetId() != id || cmd.Meta != nil {
			t.Fatalf("command %v", cmd)
		}
		if cmd.Name == nil && cmd.Url == nil && cmd.Username == nil && cmd.Password == nil && cmd.Channels == nil && cmd.Labels == nil {
			t.Fatalf("accepted a patch that changes nothing: %q", body)
		}
		str := func(k string) (v string, null bool) {
			if isNull(patch[k]) {
				return "", true
			}
			if err := json.Unmarshal(patch[k], &v); err != nil {
				t.Fatalf("member %q accepted as %s", k, patch[k])
			}
			return v, false
		}
		_, hasName := patch["name"]
		if hasName != (cmd.Name != nil) {
			t.Fatalf("name in patch %v, in command %v", hasName, cmd.Name != nil)
		}
		if hasName {
			if v, null := str("name"); null || v != *cmd.Name || checkName(v) != nil {
				t.Fatalf("name %q from %s", *cmd.Name, patch["name"])
			}
		}
		var fromURL deviceURL
		_, hasURL := patch["url"]
		if hasURL != (cmd.Url != nil) {
			t.Fatalf("url in patch %v, in command %v", hasURL, cmd.Url != nil)
		}
		if hasURL {
			v, null := str("url")
			var up *Problem
			if fromURL, up = parseDeviceURL(v); null || up != nil || fromURL.URL != *cmd.Url {
				t.Fatalf("url %q from %s", *cmd.Url, patch["url"])
			}
			checkStoredURL(t, *cmd.Url)
		}
		// credentials: the member (null clears) wins over the URL's userinfo
		for _, c := range []struct {
			field   string
			got     *string
			fromURL string
			inURL   bool
			check   func(string) *Problem
		}{
			{"username", cmd.Username, fromURL.Username, fromURL.HasUser, checkUsername},
			{"password", cmd.Password, fromURL.Password, fromURL.HasPassword, checkPassword},
		} {
			want, set := "", false
			if _, ok := patch[c.field]; ok {
				want, _ = str(c.field)
				set = true
			} else if c.inURL {
				want, set = c.fromURL, true
			}
			if set != (c.got != nil) || set && *c.got != want {
				t.Fatalf("%s: command %v, want %q (set %v)", c.field, c.got, want, set)
			}
			if set && c.check(want) != nil {
				t.Fatalf("%s %q accepted", c.field, want)
			}
		}
		_, hasCh := patch["channels"]
		if hasCh != (cmd.Channels != nil) {
			t.Fatalf("channels in patch %v, in command %v", hasCh, cmd.Channels != nil)
		}
		if hasCh {
			var n int64
			if err := json.Unmarshal(patch["channels"], &n); err != nil || n != int64(*cmd.Channels) || n < 1 || n > maxChannels {
				t.Fatalf("channels %d from %s", *cmd.Channels, patch["channels"])
			}
		}
		if raw, ok := patch["labels"]; !ok && cmd.Labels != nil {
			t.Fatalf("label patch %v without labels in the patch", cmd.Labels)
		} else if ok {
			var lm map[string]json.RawMessage
			if err := json.Unmarshal(raw, &lm); err != nil || lm == nil {
				t.Fatalf("labels %s accepted (%v)", raw, err)
			}
			lp := cmd.Labels
			if (lp != nil) != (len(lm) > 0) {
				t.Fatalf("label patch %v from %s", lp, raw)
			}
			if len(lp.GetSet())+len(lp.GetRemove()) != len(lm) || len(lp.GetSet()) > maxLabels {
				t.Fatalf("label patch %v from %s", lp, patch["labels"])
			}
			for k, v := range lp.GetSet() {
				var want string
				if json.Unmarshal(lm[k], &want) != nil || want != v || checkLabel(k, v) != nil {
					t.Fatalf("label %q = %q from %s", k, v, lm[k])
				}
			}
			for _, k := range lp.GetRemove() {
				if _, both := lp.GetSet()[k]; both || !isNull(lm[k]) || !validLabelKey(k) {
					t.Fatalf("label %q removed from %s", k, patch["labels"])
				}
			}
		}
	})
}

package httpauth

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseChallenges reads one WWW-Authenticate value: the parse stays
// bounded, and an adopted challenge's answer reads back with its realm,
// nonce and opaque, whatever they hold.
func FuzzParseChallenges(f *testing.F) {
	f.Add(`Digest qop="auth", realm="IP Camera(C1234)", nonce="4e6f6e", opaque="b3Bh", algorithm=MD5, stale="FALSE"`)
	f.Add(`Digest realm="a \"b\", c", nonce=x, qop="auth-int,auth", algorithm=SHA-256-sess`)
	f.Add(`Basic realm="cam", Digest realm="a \"quoted\", realm", nonce=abc, qop="auth,auth-int", algorithm=MD5`)
	f.Add(`Basic realm="x", Digest realm="x", nonce="n1", qop="auth", Digest realm="x", nonce="n2", qop="auth", algorithm=SHA-256`)
	f.Add(`Negotiate YIIB==`)
	f.Add(`Digest a="unterminated`)
	f.Fuzz(func(t *testing.T, v string) {
		if len(v) > 1<<16 {
			return // beyond what a camera answer may be: refused before parsing
		}
		cs := ParseChallenges(http.Header{"Www-Authenticate": {v, v}})
		if len(cs) > maxChallenges {
			t.Fatalf("%d challenges", len(cs))
		}
		for _, c := range cs {
			if len(c.Params) > maxParams || c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) {
				t.Fatalf("%+v", c)
			}
		}
		a := NewAuthorizer("u", "p", DigestOrBasic)
		adopted := a.Challenge(http.Header{"Www-Authenticate": {v}})
		authz, ok := a.Header("POST", "/onvif/device_service")
		if adopted != ok {
			t.Fatalf("Challenge %v, Header %v", adopted, ok)
		}
		if !ok || strings.HasPrefix(authz, "Basic ") {
			return
		}
		d := a.digest
		back := parseValue(authz, nil)
		if len(back) != 1 || back[0].Scheme != "digest" {
			t.Fatalf("%q reads back as %+v", authz, back)
		}
		p := back[0].Params
		if p["realm"] != d.realm || p["nonce"] != d.nonce || p["opaque"] != d.opaque || p["username"] != "u" || p["uri"] != "/onvif/device_service" {
			t.Fatalf("%q reads back as %+v", authz, p)
		}
	})
}

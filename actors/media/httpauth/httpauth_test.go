package httpauth

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// credentials reads an Authorization header's value (its syntax is a
// challenge's).
func credentials(t *testing.T, authz string) Challenge {
	t.Helper()
	c := parseValue(authz, nil)
	if len(c) != 1 {
		t.Fatalf("%q reads as %d challenges", authz, len(c))
	}
	return c[0]
}

func header(values ...string) http.Header {
	return http.Header{"Www-Authenticate": values}
}

// The examples of RFC 2617 (3.5) and RFC 7616 (3.9.1).
func TestDigestRFCExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		d                digest
		user, pass, uri  string
		cnonce, response string
	}{
		{
			"RFC 2617", digest{realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque: "5ccc069c403ebaf9f0171e9517f40e41", qopAuth: true},
			"Mufasa", "Circle Of Life", "/dir/index.html", "0a4f113b", "6629fae49393a05397450978507c4ef1",
		},
		{
			"RFC 7616 MD5", digest{realm: "http-auth@example.org", nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", algorithm: "MD5", qopAuth: true},
			"Mufasa", "Circle of Life", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "8ca523f5e9506fed4657c9700eebdbec",
		},
		{
			"RFC 7616 SHA-256", digest{realm: "http-auth@example.org", nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", algorithm: "SHA-256", qopAuth: true},
			"Mufasa", "Circle of Life", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
		},
	} {
		authz := tc.d.authorization("GET", tc.uri, tc.user, tc.pass, tc.cnonce, 1)
		c := credentials(t, authz)
		if c.Scheme != "digest" || c.Params["response"] != tc.response || c.Params["nc"] != "00000001" || c.Params["uri"] != tc.uri {
			t.Errorf("%s: %s", tc.name, authz)
		}
	}
}

// Without qop: RFC 2069's response, with neither nc nor cnonce.
func TestDigestWithoutQop(t *testing.T) {
	t.Parallel()
	a := NewAuthorizer("u", "p", DigestOnly)
	if !a.Challenge(header(`Digest realm="r", nonce="n"`)) {
		t.Fatal("refused")
	}
	authz, ok := a.Header("POST", "/onvif/device_service")
	p := credentials(t, authz).Params
	want := md5hex(md5hex("u:r:p") + ":n:" + md5hex("POST:/onvif/device_service"))
	if !ok || p["response"] != want || p["qop"] != "" || p["nc"] != "" || p["cnonce"] != "" || p["algorithm"] != "" {
		t.Fatalf("%s", authz)
	}
}

func TestDigestSess(t *testing.T) {
	t.Parallel()
	a := NewAuthorizer("u", "p", DigestOnly)
	if !a.Challenge(header(`Digest realm="r", nonce="n", qop=auth, algorithm=MD5-sess`)) {
		t.Fatal("refused")
	}
	authz, _ := a.Header("GET", "/x")
	p := credentials(t, authz).Params
	ha1 := md5hex(md5hex("u:r:p") + ":n:" + p["cnonce"])
	want := md5hex(ha1 + ":n:00000001:" + p["cnonce"] + ":auth:" + md5hex("GET:/x"))
	if p["algorithm"] != "MD5-sess" || p["response"] != want {
		t.Fatalf("%s", authz)
	}
}

func TestParseChallenges(t *testing.T) {
	t.Parallel()
	h := header(
		`Basic realm="cam", Digest realm="a \"quoted\", realm", nonce=abc, qop="auth,auth-int", algorithm=MD5`,
		`Negotiate YIIB==`,
	)
	want := []Challenge{
		{"basic", map[string]string{"realm": "cam"}},
		{"digest", map[string]string{"realm": `a "quoted", realm`, "nonce": "abc", "qop": "auth,auth-int", "algorithm": "MD5"}},
	}
	got := ParseChallenges(h)
	// Negotiate's token68 reads as a parameter: harmless, nobody answers it
	if len(got) != 3 || !reflect.DeepEqual(got[:2], want) || got[2].Scheme != "negotiate" {
		t.Fatalf("got %+v", got)
	}
	if d, ok := newDigest(got[1]); !ok || !d.qopAuth || d.nonce != "abc" || d.realm != `a "quoted", realm` {
		t.Errorf("digest: %+v %v", d, ok)
	}
	for _, bad := range []string{
		`Digest realm="r"`,                        // no nonce
		`Digest nonce="n", algorithm=SHA-512-256`, // an algorithm we do not speak
		`Digest nonce="n", qop="auth-int"`,        // body hashing
	} {
		if c := ParseChallenges(header(bad)); len(c) != 1 {
			t.Errorf("%s: %+v", bad, c)
		} else if _, ok := newDigest(c[0]); ok {
			t.Errorf("%s: accepted", bad)
		}
		if NewAuthorizer("u", "p", DigestOrBasic).Challenge(header(bad)) {
			t.Errorf("%s: adopted", bad)
		}
	}
	// garbage ends, whatever it is
	for _, s := range []string{`"`, `=,=`, `Digest ===`, `Digest a="unterminated`, `Digest a="x\`, "\x00", `a=b, Basic`, ""} {
		ParseChallenges(header(s))
	}
}

func TestParseChallengesBounded(t *testing.T) {
	t.Parallel()
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf(`Digest nonce="n%d", realm=r`, i))
	}
	got := ParseChallenges(header(strings.Join(many[:20], ", "), strings.Join(many[20:], ", ")))
	if len(got) != maxChallenges {
		t.Fatalf("%d challenges", len(got))
	}
	if last := got[maxChallenges-1]; last.Params["nonce"] != "n15" || last.Params["realm"] != "r" {
		t.Errorf("the last challenge kept: %+v", last)
	}
	var params []string
	for i := range 100 {
		params = append(params, fmt.Sprintf("p%d=%d", i, i))
	}
	got = ParseChallenges(header("Digest " + strings.Join(params, ", ")))
	if len(got) != 1 || len(got[0].Params) != maxParams {
		t.Fatalf("%d params", len(got[0].Params))
	}
}

func TestChallengeOrder(t *testing.T) {
	t.Parallel()
	md5a := `Digest realm="x", nonce="n1", qop="auth"`
	md5b := `Digest realm="x", nonce="n2", qop="auth", algorithm=MD5`
	sha := `Digest realm="x", nonce="n3", qop="auth", algorithm=SHA-256`
	for _, tc := range []struct {
		h       http.Header
		schemes Schemes
		want    string // the nonce answered, "basic", or "" for none
	}{
		{header(`Basic realm="x"`, md5a, sha), DigestOrBasic, "n3"},
		{header(`Basic realm="x", ` + md5a + ", " + sha), DigestOnly, "n3"},
		{header(sha, md5a), DigestOnly, "n3"},
		{header(md5a, md5b), DigestOnly, "n1"}, // the first of equals
		{header(`Basic realm="x"`, md5b), DigestOrBasic, "n2"},
		{header(`Basic realm="x"`), DigestOrBasic, "basic"},
		{header(`Basic realm="x"`), DigestOnly, ""}, // never Basic unless allowed
		{header(`NTLM`), DigestOrBasic, ""},
		{header(`Digest realm="x", nonce="n", qop="auth-int"`, `Basic realm="x"`), DigestOrBasic, "basic"},
		{http.Header{}, DigestOrBasic, ""}, // never Basic unless offered
	} {
		a := NewAuthorizer("u", "p", tc.schemes)
		adopted := a.Challenge(tc.h)
		authz, ok := a.Header("GET", "/s.jpg")
		switch {
		case adopted != ok || adopted != (tc.want != ""):
			t.Errorf("%v: Challenge %v, Header %q %v, want %q", tc.h, adopted, authz, ok, tc.want)
		case tc.want == "basic":
			if authz != "Basic dTpw" {
				t.Errorf("%v: %q", tc.h, authz)
			}
		case tc.want != "":
			if c := credentials(t, authz); c.Scheme != "digest" || c.Params["nonce"] != tc.want {
				t.Errorf("%v: %q, want nonce %s", tc.h, authz, tc.want)
			}
		}
	}
}

// The challenge adopted answers every later request, nc counting up, until
// another is adopted; a 401 without one keeps it.
func TestAuthorizerKeepsChallenge(t *testing.T) {
	t.Parallel()
	a := NewAuthorizer("admin", `pa"ss`, DigestOnly)
	if _, ok := a.Header("POST", "/"); ok {
		t.Fatal("a header before any challenge")
	}
	const realm, nonce, opaque = "IP Camera(C1234)", "4e6f6e", "b3Bh"
	if !a.Challenge(header(`Digest qop="auth", realm="` + realm + `", nonce="` + nonce + `", opaque="` + opaque + `", algorithm=MD5, stale="FALSE"`)) {
		t.Fatal("refused")
	}
	cnonces := map[string]bool{}
	for i := 1; i <= 3; i++ {
		authz, _ := a.Header("POST", "/onvif/device_service")
		p := credentials(t, authz).Params
		ha1 := md5hex(`admin:` + realm + `:pa"ss`)
		ha2 := md5hex("POST:/onvif/device_service")
		want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
		if p["nc"] != fmt.Sprintf("%08x", i) || p["response"] != want || p["opaque"] != opaque || p["realm"] != realm ||
			p["username"] != "admin" || p["algorithm"] != "MD5" || cnonces[p["cnonce"]] {
			t.Fatalf("request %d: %s", i, authz)
		}
		cnonces[p["cnonce"]] = true
	}
	if a.Challenge(header(`Basic realm="x"`)) {
		t.Fatal("Basic adopted")
	}
	if authz, _ := a.Header("POST", "/"); credentials(t, authz).Params["nc"] != "00000004" {
		t.Fatalf("after a refused challenge: %s", authz)
	}
	a.Challenge(header(`Digest realm="r", nonce="fresh", qop=auth`))
	if authz, _ := a.Header("POST", "/"); credentials(t, authz).Params["nc"] != "00000001" || credentials(t, authz).Params["nonce"] != "fresh" {
		t.Fatalf("a new challenge: %s", authz)
	}
}

// Concurrent requests each get their own nc; a concurrent new challenge
// races with nobody (run with -race).
func TestAuthorizerConcurrent(t *testing.T) {
	t.Parallel()
	a := NewAuthorizer("u", "p", DigestOnly)
	a.Challenge(header(`Digest realm="r", nonce="n", qop=auth`))
	const workers, each = 8, 50
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				authz, _ := a.Header("GET", "/")
				nc := parseValue(authz, nil)[0].Params["nc"]
				mu.Lock()
				if seen[nc] {
					t.Errorf("nc %s twice", nc)
				}
				seen[nc] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each || !seen[fmt.Sprintf("%08x", workers*each)] {
		t.Fatalf("%d distinct nc", len(seen))
	}
	for range workers {
		wg.Go(func() {
			for range each {
				a.Challenge(header(`Digest realm="r", nonce="m", qop=auth`))
				a.Header("GET", "/")
			}
		})
	}
	wg.Wait()
}

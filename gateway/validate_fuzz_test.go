package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets of the request validation (validate.go). The seeds below and
// testdata/fuzz/<target>/ run as ordinary tests; `make fuzz` explores.

// idRule is events.IDRule as a regexp, written out independently of
// events.ValidID (which is hand-written).
var idRule = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// wantProblem fails unless p is a 400 naming field.
func wantProblem(t *testing.T, what string, p *Problem, field string) {
	t.Helper()
	if p.Status != http.StatusBadRequest || p.Field != field {
		t.Fatalf("%s: problem %d field %q, want 400 field %q (%s)", what, p.Status, p.Field, field, p.Detail)
	}
	if p.Detail == "" || p.Title == "" {
		t.Fatalf("%s: problem without title or detail: %+v", what, p)
	}
}

// FuzzCheckScalars: checkID, checkName, checkUsername, checkPassword,
// checkLabel and labelField on one arbitrary string. Each check accepts
// exactly what its rule says and its problem names its field.
func FuzzCheckScalars(f *testing.F) {
	for _, s := range []string{"", "cam1", "cam-1_a", "Cam1", "-cam", "a.b", "a b", "*", ">", "é",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("n", 201), " ", "\t", "a\x7fb", "a\x00",
		"app.kubernetes.io/name", "\xff\xfe", strings.Repeat("é", 200), strings.Repeat("k", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// checkID ⇔ the id rule
		if p := checkID(s); p != nil {
			wantProblem(t, "checkID", p, "id")
			if idRule.MatchString(s) {
				t.Fatalf("checkID(%q) refused an id matching the rule", s)
			}
		} else if !idRule.MatchString(s) {
			t.Fatalf("checkID(%q) accepted an id not matching %s", s, idRule)
		}

		// checkName ⇔ not blank, ≤ 200 characters, no control character
		hasControl := strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
		nameOK := strings.TrimSpace(s) != "" && utf8.RuneCountInString(s) <= maxNameLen && !hasControl
		if p := checkName(s); p != nil {
			wantProblem(t, "checkName", p, "name")
			if nameOK {
				t.Fatalf("checkName(%q) refused a valid name: %s", s, p.Detail)
			}
		} else if !nameOK {
			t.Fatalf("checkName(%q) accepted an invalid name", s)
		}

		// checkUsername ⇔ ≤ 255 bytes without control characters
		if p := checkUsername(s); p != nil {
			wantProblem(t, "checkUsername", p, "username")
			if len(s) <= maxUsernameLen && !hasControl {
				t.Fatalf("checkUsername(%q) refused a valid username", s)
			}
		} else if len(s) > maxUsernameLen || hasControl {
			t.Fatalf("checkUsername(%q) accepted an invalid username", s)
		}

		// checkPassword ⇔ ≤ 1024 bytes (anything else goes)
		if p := checkPassword(s); (p != nil) != (len(s) > maxPasswordLen) {
			t.Fatalf("checkPassword(%d bytes) = %v", len(s), p)
		} else if p != nil {
			wantProblem(t, "checkPassword", p, "password")
		}

		// labelField never echoes a hostile key
		lf := labelField(s)
		if lf != "labels" && lf != "labels."+s {
			t.Fatalf("labelField(%q) = %q", s, lf)
		}
		if !utf8.ValidString(lf) || strings.ContainsFunc(lf, isControl) || len(lf) > len("labels.")+128 {
			t.Fatalf("labelField(%q) = %q echoes a hostile key", s, lf)
		}

		// checkLabel(k, v) as key and as value
		keyOK := labelKeyPattern.MatchString(s) && len(s) <= 63
		if p := checkLabel(s, "v"); p != nil {
			wantProblem(t, "checkLabel key", p, lf)
			if keyOK {
				t.Fatalf("checkLabel refused key %q", s)
			}
		} else if !keyOK || strings.ContainsAny(s, ": \x00") {
			t.Fatalf("checkLabel accepted key %q", s)
		}
		valueOK := utf8.RuneCountInString(s) <= maxLabelValue && !hasControl
		if p := checkLabel("k", s); p != nil {
			wantProblem(t, "checkLabel value", p, "labels.k")
			if valueOK {
				t.Fatalf("checkLabel refused value %q", s)
			}
		} else if !valueOK {
			t.Fatalf("checkLabel accepted value %q", s)
		}
	})
}

// FuzzParseDeviceURL: a device URL is accepted only as rtsp(s)://host with a
// valid port; the accepted URL never keeps userinfo, re-parses to itself,
// and the credentials are exactly the userinfo's. A refused URL is a
// problem on "url" whose detail does not repeat the URL (it may hold a
// password).
func FuzzParseDeviceURL(f *testing.F) {
	for _, s := range []string{
		"rtsp://cam.local:554/stream1", "rtsps://10.0.0.5/live?ch=1&sub=0", "RTSP://cam/x",
		"rtsp://admin:s3cr%40t@cam:554/s", "rtsp://admin@cam/s", "rtsp://:pw@cam/s", "rtsp://[::1]:8554/live",
		"", "http://cam/x", "cam/x", "rtsp:cam", "rtsp:///path", "rtsp://u:p@/path", "rtsp://cam:99999/x",
		"rtsp://cam:0/x", "rtsp://cam:+1/x", "rtsp://ca m/x", "rtsp://cam/\x00", "rtsp://u:hunter2@ca m/",
		"rtsp://a@b@c/d", "rtsp://cam/p@q?x=@#frag", "rtsp://u:p@cam/%zz", "rtsp://cam/{channel}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, p := parseDeviceURL(raw)
		if p != nil {
			wantProblem(t, "parseDeviceURL", p, "url")
			if len(raw) > len("rtsp://host[:port]/path") && strings.Contains(p.Detail, raw) {
				t.Fatalf("detail %q repeats the URL", p.Detail)
			}
			if u, err := url.Parse(raw); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(p.Detail, pw) {
					t.Fatalf("detail %q repeats the password", p.Detail)
				}
			}
			if out != (deviceURL{}) {
				t.Fatalf("refused URL with a result: %+v", out)
			}
			return
		}
		if len(raw) > maxURLLen {
			t.Fatalf("accepted a URL of %d bytes", len(raw))
		}
		u, err := url.Parse(out.URL)
		if err != nil {
			t.Fatalf("accepted URL %q does not parse: %v", out.URL, err)
		}
		if u.User != nil || strings.Contains(u.Host, "@") {
			t.Fatalf("accepted URL %q keeps userinfo", out.URL)
		}
		if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
			t.Fatalf("accepted URL %q has scheme %q", out.URL, u.Scheme)
		}
		if u.Hostname() == "" || u.Opaque != "" {
			t.Fatalf("accepted URL %q names no host", out.URL)
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("accepted URL %q has port %q", out.URL, port)
			}
		}
		// the credentials are the raw URL's userinfo, nothing else
		ru, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q that url.Parse refuses: %v", raw, err)
		}
		var wantUser, wantPass string
		var wantHasPass bool
		if ru.User != nil {
			wantUser = ru.User.Username()
			wantPass, wantHasPass = ru.User.Password()
		}
		if out.Username != wantUser || out.Password != wantPass || out.HasPassword != wantHasPass || out.HasUser != (wantUser != "") {
			t.Fatalf("%q: credentials %+v, want user %q password %q (%v)", raw, out, wantUser, wantPass, wantHasPass)
		}
		// parse → format → parse: the stored URL is accepted as is
		again, p := parseDeviceURL(out.URL)
		if p != nil {
			t.Fatalf("stored URL %q (from %q) is refused: %v", out.URL, raw, p)
		}
		if again != (deviceURL{URL: out.URL}) {
			t.Fatalf("stored URL %q re-parses to %+v", out.URL, again)
		}
	})
}

// fuzzLabels reads "k=v" lines into a label set.
func fuzzLabels(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// FuzzCheckLabels: a label set is accepted iff it has at most 64 labels,
// each with a valid key and value; a refusal names "labels" or the first
// bad label in key order (deterministically), never a hostile key.
func FuzzCheckLabels(f *testing.F) {
	f.Add("site=paris")
	f.Add("site=paris\nA=\napp.kubernetes.io/name=x")
	f.Add("=v")
	f.Add("b=ok\na=a\x01b")
	f.Add("a b=v\n-x=v")
	f.Add(strings.Repeat("k", 64) + "=v")
	f.Add(strings.Repeat("k", 200) + "=v")
	f.Add("site=" + strings.Repeat("v", 256))
	var many []string
	for i := range maxLabels + 1 {
		many = append(many, "k"+strconv.Itoa(i)+"=v")
	}
	f.Add(strings.Join(many, "\n"))
	f.Fuzz(func(t *testing.T, s string) {
		labels := fuzzLabels(s)
		var wantField string // "" = valid
		if len(labels) > maxLabels {
			wantField = "labels"
		} else {
			for _, k := range sortedKeys(labels) {
				v := labels[k]
				if !labelKeyPattern.MatchString(k) || utf8.RuneCountInString(v) > maxLabelValue || strings.ContainsFunc(v, isControl) {
					wantField = labelField(k)
					break
				}
			}
		}
		for range 2 { // same answer each time, whatever the map order
			p := checkLabels(labels)
			if wantField == "" {
				if p != nil {
					t.Fatalf("%q refused: %v", labels, p)
				}
				continue
			}
			if p == nil {
				t.Fatalf("%q accepted, want a problem on %q", labels, wantField)
			}
			wantProblem(t, "checkLabels", p, wantField)
			if strings.ContainsFunc(p.Field, isControl) || !utf8.ValidString(p.Field) {
				t.Fatalf("field %q echoes a hostile key", p.Field)
			}
		}
	})
}

// FuzzParseIfMatch: If-Match is no precondition (absent, empty, "*"), one
// version (parse(etag(n)) = n; what is accepted is a decimal, optionally
// quoted), or a problem on "If-Match".
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `3`, ` "42" `, `*`, ``, `"0"`, `W/"3"`, `w/"3"`, `"3`, `3"`, `""`, `"`,
		`"abc"`, `"-1"`, `"+1"`, `"1", "2"`, `"99999999999999999999999"`, `"18446744073709551615"`, `"007"`} {
		f.Add(s, "", uint8(1), uint64(0))
	}
	f.Add(`"1"`, `"2"`, uint8(2), uint64(18446744073709551615))
	f.Add("", "", uint8(0), uint64(7))
	f.Fuzz(func(t *testing.T, a, b string, n uint8, version uint64) {
		// format → parse
		for _, tag := range []string{etag(version), strconv.FormatUint(version, 10)} {
			h := http.Header{}
			h.Set("If-Match", tag)
			if v, set, p := parseIfMatch(h); p != nil || !set || v != version {
				t.Fatalf("parseIfMatch(%s) = %d %v %v, want %d", tag, v, set, p, version)
			}
		}

		h := http.Header{}
		vals := []string{a, b}[:n%3]
		for _, v := range vals {
			h.Add("If-Match", v)
		}
		v, set, p := parseIfMatch(h)
		if p != nil {
			wantProblem(t, "parseIfMatch", p, "If-Match")
			if v != 0 || set {
				t.Fatalf("problem with a version: %d %v", v, set)
			}
			return
		}
		if len(vals) > 1 {
			t.Fatalf("%q: two If-Match headers accepted", vals)
		}
		if !set {
			if v != 0 || len(vals) == 1 && strings.TrimSpace(a) != "" && strings.TrimSpace(a) != "*" {
				t.Fatalf("%q: no precondition (%d)", vals, v)
			}
			return
		}
		// what was accepted is the version in decimal, perhaps quoted
		tag := strings.TrimSpace(a)
		digits := strings.TrimSuffix(strings.TrimPrefix(tag, `"`), `"`)
		if digits == "" || strings.Trim(digits, "0123456789") != "" || (tag != digits && tag != `"`+digits+`"`) {
			t.Fatalf("accepted %q as version %d", a, v)
		}
		if w, err := strconv.ParseUint(digits, 10, 64); err != nil || w != v {
			t.Fatalf("accepted %q as version %d", a, v)
		}
		// parse → format → parse
		h2 := http.Header{}
		h2.Set("If-Match", etag(v))
		if v2, set2, p2 := parseIfMatch(h2); p2 != nil || !set2 || v2 != v {
			t.Fatalf("%q: version %d does not round-trip: %d %v %v", a, v, v2, set2, p2)
		}
	})
}

// FuzzParseLabelFilter: ?label=k:v splits at the first ':' into a valid
// key and a value of at most 255 characters; else a problem on "label".
func FuzzParseLabelFilter(f *testing.F) {
	for _, s := range []string{"site:paris", "site:", "site", ":v", "a:b:c", "app.kubernetes.io/name:x",
		"-x:v", "a b:v", strings.Repeat("k", 64) + ":v", "k:" + strings.Repeat("é", 256), "k:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, p := parseLabelFilter(s)
		ck, cv, found := strings.Cut(s, ":")
		want := found && labelKeyPattern.MatchString(ck) && utf8.RuneCountInString(cv) <= maxLabelValue
		if p != nil {
			wantProblem(t, "parseLabelFilter", p, "label")
			if want || k != "" || v != "" {
				t.Fatalf("%q refused (%q, %q): %v", s, k, v, p)
			}
			return
		}
		if !want {
			t.Fatalf("%q accepted as %q:%q", s, k, v)
		}
		if k+":"+v != s || strings.Contains(k, ":") || !validLabelKey(k) {
			t.Fatalf("%q split as %q:%q", s, k, v)
		}
	})
}

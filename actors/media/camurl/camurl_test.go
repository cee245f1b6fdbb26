package camurl

import (
	"net/url"
	"strings"
	"testing"
)

func TestSplitAndJoin(t *testing.T) {
	for _, tc := range []struct {
		in, stored string
		user, pass string
	}{
		{"rtsp://u:p%40ss@h:554/x?y=1", "rtsp://h:554/x?y=1", "u", "p@ss"},
		{"rtsp://h/x", "rtsp://h/x", "", ""},
		{"rtsp://h/live?channel=1&user=admin&password=s3cr%26t&stream=0", "rtsp://h/live?channel=1&user={username}&password={password}&stream=0", "admin", "s3cr&t"},
		{"rtsp://h/live?PWD=x", "rtsp://h/live?PWD={password}", "", "x"},
		{"rtsp://h/live?user=admin", "rtsp://h/live?user=admin", "", ""},                             // no password: nothing secret
		{"rtsp://a:b@h/live?usr=c&pass=d", "rtsp://h/live?usr={username}&pass={password}", "a", "b"}, // userinfo wins
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		c := Split(u)
		if u.String() != tc.stored || c.Username != tc.user || c.Password != tc.pass {
			t.Errorf("Split(%q) = %q %q %q, want %q %q %q", tc.in, u.String(), c.Username, c.Password, tc.stored, tc.user, tc.pass)
		}
		if tc.pass != "" && strings.Contains(u.String(), url.QueryEscape(tc.pass)) {
			t.Errorf("%q: password left in %q", tc.in, u.String())
		}
		// Split again (a stored URL) changes nothing and finds nothing.
		again, _ := url.Parse(u.String())
		if c2 := Split(again); again.String() != tc.stored || c2.HasPassword {
			t.Errorf("Split of stored %q: %q %+v", tc.stored, again.String(), c2)
		}
		Join(again, c.Username, c.Password)
		if c.HasPassword && again.User == nil {
			t.Errorf("%q: no userinfo after Join", tc.in)
		}
		if strings.Contains(again.RawQuery, "{") || strings.Contains(again.RawQuery, "%7B") {
			t.Errorf("%q: placeholder left after Join: %q", tc.in, again.RawQuery)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://u:p@h:554/x?y=1":       "rtsp://h:554/x?y=1",
		"rtsp://h/x":                   "rtsp://h/x",
		"rtsp://h/x?user=a&password=b": "rtsp://h/x?user={username}&password={password}",
		"rtsp://u:p@h:bad/x?pwd=1":     "rtsp://h:bad/x", // does not parse: no userinfo, no query
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthority(t *testing.T) {
	same := [][2]string{{"rtsp://h/a", "rtsp://H:554/b?x=1"}, {"rtsps://h/a", "rtsps://h:322/c"}}
	other := [][2]string{{"rtsp://h/a", "rtsp://h:8554/a"}, {"rtsp://h/a", "rtsp://evil/a"}, {"rtsps://h/a", "rtsp://h/a"}}
	for _, p := range same {
		if Authority(p[0]) != Authority(p[1]) {
			t.Errorf("%q and %q differ: %q %q", p[0], p[1], Authority(p[0]), Authority(p[1]))
		}
	}
	for _, p := range other {
		if Authority(p[0]) == Authority(p[1]) {
			t.Errorf("%q and %q are the same recipient", p[0], p[1])
		}
	}
}

package relay

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// describePathAndQuery is how gortsplib (v5, getPathAndQuery) hands a
// DESCRIBE's URL to OnDescribe: ffmpeg's trailing "/" after the query and
// GStreamer's after the path are dropped.
func describePathAndQuery(u *base.URL) (string, string) {
	if strings.HasSuffix(u.RawQuery, "/") {
		return u.Path, u.RawQuery[:len(u.RawQuery)-1]
	}
	if len(u.Path) > 1 && strings.HasSuffix(u.Path, "/") {
		return u.Path[:len(u.Path)-1], u.RawQuery
	}
	return u.Path, u.RawQuery
}

var errRefused = errors.New("refused by the fuzz test")

// FuzzRequestURL: a reader's RTSP URL (rtsp://host/live/<device>/<ch>?token=…)
// through the server's own parsing, without a running server: open
// (ParsePath, the query, Authorize) and redirect (the 302 to the owner).
//
//   - A path ParsePath refuses is a 404 and a query url.ParseQuery refuses
//     a 400, both before Authorize; otherwise Authorize sees exactly the
//     parsed key and query (its error is a 401, and Open is never reached).
//   - A redirect's Location is the owner's base with the request's own path
//     and query: it parses, names the owner, carries no userinfo, and the
//     owner parses the same key from it.
func FuzzRequestURL(f *testing.F) {
	for _, s := range []string{
		"rtsp://10.0.0.1:8554/live/cam1/1?token=abc.def", "rtsp://h/live/cam1/1", "rtsp://h/live/cam1/1/",
		"rtsp://h/live/cam1/1?token=abc/", "rtsp://h/live/cam1/1?token=abc/trackID=0", "rtsp://h/live/cam1/1/trackID=1",
		"rtsp://user:pass@h/live/cam-1_x/64?token=t&x=1", "rtsps://h:322/live/cam1/2?token=a%2Fb", "rtsp://h/live/cam%31/1",
		"rtsp://h/live/cam1/1?token=%zz", "rtsp://h/live/cam1/1?a;b", "rtsp://h/live/cam1/01", "rtsp://h/live/Cam/1",
		"rtsp://h/hls/cam1/1", "rtsp://h/", "rtsp://h", "rtsp://h/live/cam1/1?", "rtsp://[::1]:8554/live/a/3?token=x",
		"rtsp://h/live/cam1/1%2F", "rtsp://h/live/cam1%2F1/2", "rtsp://h/live/cam1/1?token=a#frag", "http://h/live/cam1/1",
	} {
		f.Add(s)
	}
	const owner = "rtsp://10.9.8.7:8554"
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := base.ParseURL(raw)
		if err != nil {
			return // gortsplib answers 400 before any handler
		}
		path, query := describePathAndQuery(u)
		key, pathOK := ParsePath(path)
		_, qerr := url.ParseQuery(query)

		var calls int
		var gotKey Key
		var gotQuery url.Values
		srv := &Server{cfg: Config{ // Open is nil: reaching it panics
			Authorize: func(k Key, q url.Values) (Grant, error) {
				calls++
				gotKey, gotQuery = k, q
				return Grant{}, errRefused
			},
		}}
		st, ss, _, res, err := srv.open(path, query)
		if st != nil || ss != nil || res == nil || err == nil {
			t.Fatalf("open(%q, %q) = %v %v %v %v", path, query, st, ss, res, err)
		}
		switch {
		case !pathOK:
			if res.StatusCode != base.StatusNotFound || calls != 0 {
				t.Fatalf("open(%q): %d after %d Authorize, want 404 before it", path, res.StatusCode, calls)
			}
		case qerr != nil:
			if res.StatusCode != base.StatusBadRequest || calls != 0 {
				t.Fatalf("open(%q, %q): %d after %d Authorize, want 400 before it", path, query, res.StatusCode, calls)
			}
		default:
			if res.StatusCode != base.StatusUnauthorized || calls != 1 || !errors.Is(err, errRefused) {
				t.Fatalf("open(%q, %q): %d after %d Authorize (%v), want 401 after 1", path, query, res.StatusCode, calls, err)
			}
			want, _ := url.ParseQuery(query)
			if gotKey != key || !gotKey.Valid() || gotKey.Path() != strings.TrimSuffix(path, "/") || !reflect.DeepEqual(gotQuery, want) {
				t.Fatalf("Authorize(%+v, %v), want (%+v, %v)", gotKey, gotQuery, key, want)
			}
		}

		// no Redirect, or the stream is local: served here
		if res := (&Server{}).redirect(path, "", u); res != nil {
			t.Fatalf("redirect without Config.Redirect: %v", res)
		}
		var asked []Key
		local := &Server{cfg: Config{Redirect: func(k Key) (string, bool) { asked = append(asked, k); return "", false }}}
		if res := local.redirect(path, "", u); res != nil {
			t.Fatalf("redirect of a local stream: %v", res)
		}
		if !pathOK && len(asked) != 0 || pathOK && (len(asked) != 1 || asked[0] != key) {
			t.Fatalf("Redirect asked for %v, path %q parses as %+v %v", asked, path, key, pathOK)
		}
		// the owner is unknown: 503
		if res := (&Server{cfg: Config{Redirect: func(Key) (string, bool) { return "", true }}}).redirect(path, "", u); pathOK != (res != nil) ||
			res != nil && res.StatusCode != base.StatusServiceUnavailable {
			t.Fatalf("redirect to an unknown owner: %v", res)
		}
		// elsewhere: 302 to the owner, same path and query
		for _, base0 := range []string{owner, owner + "/"} {
			res := (&Server{cfg: Config{Redirect: func(Key) (string, bool) { return base0, true }}}).redirect(path, "", u)
			if !pathOK {
				if res != nil {
					t.Fatalf("redirect of an unparsable path %q: %v", path, res)
				}
				continue
			}
			if res == nil || res.StatusCode != base.StatusFound || len(res.Header["Location"]) != 1 {
				t.Fatalf("redirect(%q) = %v, want one 302 Location", raw, res)
			}
			loc := res.Header["Location"][0]
			lu, err := base.ParseURL(loc)
			if err != nil {
				t.Fatalf("Location %q (from %q) does not parse: %v", loc, raw, err)
			}
			if lu.Scheme != "rtsp" || lu.Host != "10.9.8.7:8554" || lu.User != nil {
				t.Fatalf("Location %q (from %q) does not name the owner alone", loc, raw)
			}
			if lu.Path != u.Path || lu.RawQuery != u.RawQuery {
				t.Fatalf("Location %q: path %q query %q, request %q %q", loc, lu.Path, lu.RawQuery, u.Path, u.RawQuery)
			}
			lp, lq := describePathAndQuery(lu)
			if k2, ok := ParsePath(lp); !ok || k2 != key || lq != query {
				t.Fatalf("owner parses %q as %+v %v query %q, here %+v %q", loc, k2, ok, lq, key, query)
			}
		}
	})
}

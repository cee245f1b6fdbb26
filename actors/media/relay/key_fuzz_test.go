package relay

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// idRule is the device id rule of the event model, written out here.
var idRule = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// FuzzParsePath: ParsePath accepts exactly /live/<device id>/<canonical
// channel ≥ 1>[/]; what it accepts formats back to the same path (Path),
// and every valid Key's Path parses back to it.
func FuzzParsePath(f *testing.F) {
	for _, p := range []string{"/live/cam1/1", "/live/cam-1_x/12", "/live/cam1/1/", "/live/cam1/0", "/live/cam1/-1",
		"/live/cam1/+1", "/live/cam1/01", "/live//1", "/live/Cam/1", "/live/a/1/b", "/hls/a/1", "", "/", "/live/",
		"/live/cam1/1//", "/live/cam1/9223372036854775807", "/live/cam1/9223372036854775808", "/live/cam1/1 ",
		"/live/cam%31/1", "//live/cam1/1", "/live/cam1/1/trackID=0", "/live/" + strings.Repeat("a", 64) + "/1"} {
		f.Add(p, "cam1", 1)
	}
	f.Add("", "", 0)
	f.Add("", "a", -1)
	f.Add("", "a/b", 2)
	f.Fuzz(func(t *testing.T, p, dev string, ch int) {
		k, ok := ParsePath(p)
		if !ok {
			if k != (Key{}) {
				t.Fatalf("ParsePath(%q) refused with key %+v", p, k)
			}
		} else {
			if !k.Valid() || !idRule.MatchString(k.Device) || k.Channel < 1 {
				t.Fatalf("ParsePath(%q) = invalid key %+v", p, k)
			}
			if k.Path() != strings.TrimSuffix(p, "/") {
				t.Fatalf("ParsePath(%q) = %+v, whose Path is %q", p, k, k.Path())
			}
			if strconv.Itoa(k.Channel) != p[strings.LastIndex(strings.TrimSuffix(p, "/"), "/")+1:len(k.Path())] {
				t.Fatalf("ParsePath(%q): channel %d is not the path's", p, k.Channel)
			}
			if k.String() != k.Device+"/"+strconv.Itoa(k.Channel) {
				t.Fatalf("String() = %q", k.String())
			}
		}

		// Key → Path → ParsePath
		kk := Key{Device: dev, Channel: ch}
		if kk.Valid() != (idRule.MatchString(dev) && ch >= 1) {
			t.Fatalf("%+v.Valid() = %v", kk, kk.Valid())
		}
		for _, path := range []string{kk.Path(), kk.Path() + "/"} {
			back, ok := ParsePath(path)
			if ok != kk.Valid() || ok && back != kk {
				t.Fatalf("ParsePath(%q) = %+v %v, key %+v valid %v", path, back, ok, kk, kk.Valid())
			}
		}
	})
}

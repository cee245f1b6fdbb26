package relay

import (
	"regexp"
	"strconv"
	"strings"
)

// Key names a relayed stream: one channel of one device. Its RTSP path is
// /live/<device>/<channel>.
type Key struct {
	Device  string
	Channel int // 1-based
}

// deviceID is the id syntax of the event model (one safe subject token).
var deviceID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Valid reports whether k can name a stream: a well-formed device id and a
// channel ≥ 1.
func (k Key) Valid() bool {
	return deviceID.MatchString(k.Device) && k.Channel >= 1
}

// Path is the RTSP path of k: /live/<device>/<channel>.
func (k Key) Path() string {
	return "/live/" + k.Device + "/" + strconv.Itoa(k.Channel)
}

// String is <device>/<channel>, for logs.
func (k Key) String() string {
	return k.Device + "/" + strconv.Itoa(k.Channel)
}

// ParsePath parses /live/<device>/<channel> (a trailing slash is tolerated).
// The channel must be a canonical 1-based decimal integer ("1", not "01").
func ParsePath(p string) (Key, bool) {
	p = strings.TrimSuffix(p, "/")
	rest, ok := strings.CutPrefix(p, "/live/")
	if !ok {
		return Key{}, false
	}
	dev, ch, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(ch, "/") {
		return Key{}, false
	}
	n, err := strconv.Atoi(ch)
	if err != nil || strconv.Itoa(n) != ch {
		return Key{}, false
	}
	k := Key{Device: dev, Channel: n}
	if !k.Valid() {
		return Key{}, false
	}
	return k, true
}

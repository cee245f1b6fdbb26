package relay

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Key names a relayed stream: one channel of one device, as the camera
// sends it or a rendition of it. Its RTSP path is /live/<device>/<channel>
// (a rendition: with ?codec=<codec>).
type Key struct {
	Device  string
	Channel int // 1-based
	// Codec names a rendition: "" is the camera's own stream, CodecH264
	// its transcode to H.264 (for players without H.265).
	Codec Codec
}

// CodecQuery is the query parameter that asks for a rendition (codec=h264).
const CodecQuery = "codec"

// Rendition returns k's rendition asked for by a query's codec= (ok
// false: a codec no rendition is made in).
func (k Key) Rendition(c string) (Key, bool) {
	switch Codec(c) {
	case "":
		return k, true
	case CodecH264:
		k.Codec = CodecH264
		return k, true
	}
	return k, false
}

// Source is the camera's stream of k's channel.
func (k Key) Source() Key { return Key{Device: k.Device, Channel: k.Channel} }

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

// String is <device>/<channel>[/<codec>], for logs.
func (k Key) String() string {
	s := k.Device + "/" + strconv.Itoa(k.Channel)
	if k.Codec != "" {
		s += "/" + string(k.Codec)
	}
	return s
}

// ParseRequest is the stream a request names: its path, and the
// rendition its query asks for (codec=).
func ParseRequest(path, rawQuery string) (Key, bool) {
	k, ok := ParsePath(path)
	if !ok {
		return Key{}, false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Key{}, false
	}
	return k.Rendition(q.Get(CodecQuery))
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

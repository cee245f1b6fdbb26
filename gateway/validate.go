package gateway

import (
	"crypto/rand"
	"github.com/argus-vms/argus/actors/media/camurl"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/argus-vms/argus/events"
)

// Limits of the device contract.
const (
	maxNameLen     = 200
	maxURLLen      = 2048
	maxUsernameLen = 255
	maxPasswordLen = 1024
	maxChannels    = 64
	maxLabels      = 64
	maxLabelValue  = 255
)

var labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$`)

func validLabelKey(k string) bool { return labelKeyPattern.MatchString(k) }

// checkID rejects anything that is not a valid aggregate id, before it can
// reach an actor or a subject.
func checkID(id string) *Problem {
	if !events.ValidID(id) {
		return badRequest("id", "invalid device id: %s", events.IDRule)
	}
	return nil
}

func checkName(name string) *Problem {
	if strings.TrimSpace(name) == "" {
		return badRequest("name", "name is required")
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		return badRequest("name", "name must be at most %d characters", maxNameLen)
	}
	if strings.ContainsFunc(name, isControl) {
		return badRequest("name", "name must not contain control characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkUsername(u string) *Problem {
	if len(u) > maxUsernameLen {
		return badRequest("username", "username must be at most %d bytes", maxUsernameLen)
	}
	if strings.ContainsFunc(u, isControl) {
		return badRequest("username", "username must not contain control characters")
	}
	return nil
}

func checkPassword(p string) *Problem {
	if len(p) > maxPasswordLen {
		return badRequest("password", "password must be at most %d bytes", maxPasswordLen)
	}
	return nil
}

func checkChannels(n int64) *Problem {
	if n < 1 || n > maxChannels {
		return badRequest("channels", "channels must be between 1 and %d", maxChannels)
	}
	return nil
}

// deviceURL is a camera URL split into its credential-free form and the
// credentials it carried.
type deviceURL struct {
	URL         string // without userinfo
	Username    string
	Password    string
	HasUser     bool
	HasPassword bool
}

// parseDeviceURL accepts rtsp:// and rtsps:// URLs with a host and moves any
// credentials out of the URL (userinfo; a password query parameter keeps a
// placeholder, see camurl). Error details never repeat the URL, which may
// hold a password.
func parseDeviceURL(raw string) (deviceURL, *Problem) {
	if raw == "" {
		return deviceURL{}, badRequest("url", "url is required")
	}
	if len(raw) > maxURLLen {
		return deviceURL{}, badRequest("url", "url must be at most %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return deviceURL{}, badRequest("url", "url is not a valid URL")
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return deviceURL{}, badRequest("url", "url must use the rtsp or rtsps scheme")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return deviceURL{}, badRequest("url", "url must name a host: rtsp://host[:port]/path")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return deviceURL{}, badRequest("url", "url has an invalid port")
		}
	}
	c := camurl.Split(u)
	return deviceURL{URL: u.String(), Username: c.Username, Password: c.Password, HasUser: c.HasUser, HasPassword: c.HasPassword}, nil
}

// parseOnvifURL validates an ONVIF device service address: http(s), a
// host, a valid port; userinfo is taken out like the RTSP URL's.
func parseOnvifURL(raw string) (deviceURL, *Problem) {
	if raw == "" {
		return deviceURL{}, badRequest("onvif", "onvif must be the device service URL: http://host[:port]/onvif/device_service")
	}
	if len(raw) > maxURLLen {
		return deviceURL{}, badRequest("onvif", "onvif must be at most %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return deviceURL{}, badRequest("onvif", "onvif must be an http:// or https:// URL with a host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return deviceURL{}, badRequest("onvif", "onvif has an invalid port")
		}
	}
	c := camurl.Split(u)
	return deviceURL{URL: u.String(), Username: c.Username, Password: c.Password, HasUser: c.HasUser, HasPassword: c.HasPassword}, nil
}

// labelField names a label in a problem; hostile keys are not echoed.
func labelField(k string) string {
	if len(k) > 128 || !utf8.ValidString(k) || strings.ContainsFunc(k, isControl) {
		return "labels"
	}
	return "labels." + k
}

func checkLabel(k, v string) *Problem {
	if !validLabelKey(k) {
		return badRequest(labelField(k), "label key must match %s", labelKeyPattern)
	}
	if utf8.RuneCountInString(v) > maxLabelValue {
		return badRequest(labelField(k), "label value must be at most %d characters", maxLabelValue)
	}
	if strings.ContainsFunc(v, isControl) {
		return badRequest(labelField(k), "label value must not contain control characters")
	}
	return nil
}

// checkLabels validates a complete label set in key order, so the reported
// field is deterministic.
func checkLabels(labels map[string]string) *Problem {
	if len(labels) > maxLabels {
		return badRequest("labels", "at most %d labels", maxLabels)
	}
	for _, k := range sortedKeys(labels) {
		if p := checkLabel(k, labels[k]); p != nil {
			return p
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseIfMatch reads If-Match: `"<version>"` or `<version>`. "*" and an
// absent header mean no precondition. Weak tags, lists and non-numbers are
// 400 with field "If-Match".
func parseIfMatch(h http.Header) (version uint64, set bool, p *Problem) {
	vals := h.Values("If-Match")
	if len(vals) == 0 {
		return 0, false, nil
	}
	if len(vals) > 1 {
		return 0, false, badRequest("If-Match", "If-Match must hold one version")
	}
	v := strings.TrimSpace(vals[0])
	switch {
	case v == "" || v == "*":
		return 0, false, nil
	case strings.HasPrefix(v, "W/") || strings.HasPrefix(v, "w/"):
		return 0, false, badRequest("If-Match", "weak entity tags are not accepted; send If-Match: \"<version>\"")
	case strings.Contains(v, ","):
		return 0, false, badRequest("If-Match", "If-Match must hold one version")
	}
	if strings.HasPrefix(v, `"`) || strings.HasSuffix(v, `"`) {
		if len(v) < 2 || !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) {
			return 0, false, badRequest("If-Match", "unbalanced quotes in If-Match")
		}
		v = v[1 : len(v)-1]
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || v == "" || v[0] == '+' {
		return 0, false, badRequest("If-Match", "If-Match must be a device version: \"<version>\"")
	}
	return n, true, nil
}

// parseLabelFilter reads ?label=k:v.
func parseLabelFilter(s string) (key, value string, p *Problem) {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", badRequest("label", "label filter must be key:value")
	}
	if !validLabelKey(k) {
		return "", "", badRequest("label", "label key must match %s", labelKeyPattern)
	}
	if utf8.RuneCountInString(v) > maxLabelValue {
		return "", "", badRequest("label", "label value must be at most %d characters", maxLabelValue)
	}
	return k, v, nil
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newDeviceID is "dev-" + 12 random [a-z0-9]: always a valid id.
func newDeviceID() string { return newID("dev-") }

// newID is prefix + 12 random [a-z0-9].
func newID(prefix string) string {
	const n = 12
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		for _, b := range buf {
			if b >= 252 { // 252 = 7*36: reject to stay uniform
				continue
			}
			out = append(out, idAlphabet[int(b)%len(idAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return prefix + string(out)
}

package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxURL bounds a target URL's length.
const maxURL = 2048

// CheckURL validates a target URL when a webhook is created: http or https,
// a host, no userinfo (credentials would sit in the log and the API's
// answers; the signature authenticates the sender), a port in range. Unless
// allowPrivate, the host must not be an address in a refused range nor
// localhost. Host names are judged only when dialed (dialControl), since
// what they resolve to may change. The error says why, for the API's 400.
func CheckURL(raw string, allowPrivate bool) error {
	if len(raw) > maxURL {
		return fmt.Errorf("webhook: url is longer than %d bytes", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("webhook: url is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("webhook: url must be http:// or https://")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("webhook: url must name a host")
	}
	if u.User != nil {
		return errors.New("webhook: url must not hold a user or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("webhook: url port must be 1..65535")
		}
	}
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		if !allowPrivate && refusedAddr(a) {
			return fmt.Errorf("%w: url host %s is a loopback, private, link-local or otherwise internal address", ErrRefused, a)
		}
		return nil
	}
	if numericHost(host) {
		// 2130706433, 0x7f.1, 127.1: resolvers read these as IPv4 addresses.
		return errors.New("webhook: url host must be a name or a dotted IPv4 / bracketed IPv6 address")
	}
	if !allowPrivate {
		h := strings.TrimSuffix(host, ".")
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("%w: url host %s is this machine", ErrRefused, host)
		}
	}
	return nil
}

// numericHost reports whether host's last label is all digits or hex
// (0x…): no DNS name ends so, only the legacy forms of IPv4 addresses.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

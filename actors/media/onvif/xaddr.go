package onvif

import (
	"net"
	"net/url"
	"strings"
)

// resolveXAddr makes a service address the camera reported usable from
// here: relative ones are resolved against the device URL, and ones whose
// host is unspecified (empty, 0.0.0.0, ::) take the device URL's scheme,
// host and port, as the camera evidently does not know its own address.
// Any other host is kept: it may be right where ours is a NAT's.
// "" (or an unparsable address) gives "".
func resolveXAddr(device *url.URL, xaddr string) string {
	fields := strings.Fields(xaddr)
	if len(fields) == 0 {
		return ""
	}
	u, err := url.Parse(fields[0])
	if err != nil {
		return ""
	}
	if !u.IsAbs() {
		return device.ResolveReference(u).String()
	}
	if unspecifiedHost(u.Hostname()) {
		u.Scheme, u.Host = device.Scheme, device.Host
	}
	u.User = nil
	return u.String()
}

// resolveMediaURI fixes an unspecified host in a stream or snapshot URI
// with the device's host name, keeping the URI's scheme and port (RTSP
// listens on its own port).
func resolveMediaURI(device *url.URL, uri string) string {
	uri = strings.TrimSpace(uri)
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || !unspecifiedHost(u.Hostname()) {
		return uri
	}
	host := device.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(device.Hostname(), p)
	}
	u.Host = host
	return u.String()
}

func unspecifiedHost(h string) bool {
	if h == "" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsUnspecified()
}

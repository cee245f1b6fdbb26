// Package camurl keeps camera credentials out of camera URLs: Split moves
// them out of a URL a user typed (userinfo, or query parameters such as
// ?user=…&password=… that some cameras want), leaving placeholders where
// the camera expects them; Join puts them back only in the request to that
// camera; Redact shows a URL safely; Authority tells whether a new URL
// still points at the same camera endpoint.
package camurl

import (
	"net"
	"net/url"
	"strings"
)

// Placeholders left in a stored URL's query where credentials were.
const (
	UserPlaceholder     = "{username}"
	PasswordPlaceholder = "{password}"
)

// passwordKeys and userKeys are query parameter names (lowercase) that
// cameras read credentials from.
var (
	passwordKeys = map[string]bool{"password": true, "passwd": true, "pass": true, "pwd": true, "psw": true}
	userKeys     = map[string]bool{"user": true, "username": true, "usr": true, "login": true}
)

// Credentials split off a URL.
type Credentials struct {
	Username, Password   string
	HasUser, HasPassword bool
}

// Split returns u without its credentials, and the credentials. Userinfo
// is removed; a password query parameter (and its user parameter) keeps
// its place with a placeholder value. u is modified.
func Split(u *url.URL) Credentials {
	var c Credentials
	if u.User != nil {
		c.Username = u.User.Username()
		c.HasUser = c.Username != ""
		c.Password, c.HasPassword = u.User.Password()
		u.User = nil
	}
	if u.RawQuery == "" {
		return c
	}
	params := strings.Split(u.RawQuery, "&")
	hasPassword := false
	for _, p := range params {
		k, _, _ := strings.Cut(p, "=")
		hasPassword = hasPassword || passwordKeys[strings.ToLower(unescape(k))]
	}
	if !hasPassword { // a user parameter alone is no secret (and may mean something else)
		return c
	}
	for i, p := range params {
		k, v, _ := strings.Cut(p, "=")
		key := strings.ToLower(unescape(k))
		switch {
		case passwordKeys[key]:
			if v := unescape(v); v != PasswordPlaceholder && !c.HasPassword {
				c.Password, c.HasPassword = v, true
			}
			params[i] = k + "=" + PasswordPlaceholder
		case userKeys[key]:
			if v := unescape(v); v != UserPlaceholder && !c.HasUser {
				c.Username, c.HasUser = v, v != ""
			}
			params[i] = k + "=" + UserPlaceholder
		}
	}
	u.RawQuery = strings.Join(params, "&")
	return c
}

func unescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

// Join puts the credentials into u for the request to the camera: as
// userinfo, and in place of the placeholders Split left. u is modified.
func Join(u *url.URL, username, password string) {
	if username != "" || password != "" {
		u.User = url.UserPassword(username, password)
	}
	if u.RawQuery == "" {
		return
	}
	q := u.RawQuery
	for _, r := range []struct{ ph, v string }{{UserPlaceholder, username}, {PasswordPlaceholder, password}} {
		esc := url.QueryEscape(r.v)
		q = strings.ReplaceAll(q, r.ph, esc)
		q = strings.ReplaceAll(q, url.QueryEscape(r.ph), esc)
	}
	u.RawQuery = q
}

// Redact is raw without any credentials, for logs and errors; a URL that
// does not parse keeps no userinfo-looking part.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "?"); i >= 0 {
			raw = raw[:i]
		}
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + raw[i+1:]
			}
		}
		return raw
	}
	Split(u)
	return u.String()
}

// Authority is where a URL sends its credentials: scheme, host and port
// (the scheme's default when none is given), so that a change of any of
// them is a new recipient.
func Authority(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"rtsp": "554", "rtsps": "322"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

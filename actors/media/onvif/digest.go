package onvif

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// digestChallenge is an HTTP Digest challenge (RFC 2617, with RFC 7616's
// SHA-256), kept so that later requests answer it without a 401 first.
type digestChallenge struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool
	nc                              uint32
}

// parseDigestChallenge finds the first Digest challenge with an algorithm
// we speak among the WWW-Authenticate headers.
func parseDigestChallenge(h http.Header) *digestChallenge {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(rest)
		c := &digestChallenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: p["algorithm"]}
		if c.nonce == "" || c.newHash() == nil {
			continue
		}
		qop, hasQop := p["qop"]
		for _, q := range strings.Split(qop, ",") {
			if strings.TrimSpace(q) == "auth" {
				c.qopAuth = true
			}
		}
		if hasQop && !c.qopAuth {
			continue // auth-int only: we do not hash bodies
		}
		return c
	}
	return nil
}

// parseAuthParams splits `k=v, k="quoted, with \"escapes\""`.
func parseAuthParams(s string) map[string]string {
	p := map[string]string{}
	for len(p) < 32 {
		s = strings.TrimLeft(s, " \t,")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimLeft(rest, " \t")
		var v strings.Builder
		if strings.HasPrefix(rest, `"`) {
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				v.WriteByte(rest[i])
			}
			s = rest[min(i+1, len(rest)):]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			v.WriteString(strings.TrimSpace(rest[:end]))
			s = rest[end:]
		}
		p[k] = v.String()
	}
	return p
}

func (c *digestChallenge) newHash() hash.Hash {
	switch strings.ToUpper(c.algorithm) {
	case "", "MD5", "MD5-SESS":
		return md5.New()
	case "SHA-256", "SHA-256-SESS":
		return sha256.New()
	}
	return nil
}

func (c *digestChallenge) h(parts ...string) string {
	hh := c.newHash()
	hh.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(hh.Sum(nil))
}

// authorization answers the challenge for one request.
func (c *digestChallenge) authorization(method, uri, username, password string) (string, error) {
	cnonceRaw := make([]byte, 8)
	if _, err := rand.Read(cnonceRaw); err != nil {
		return "", err
	}
	cnonce := hex.EncodeToString(cnonceRaw)
	c.nc++
	nc := fmt.Sprintf("%08x", c.nc)
	ha1 := c.h(username, c.realm, password)
	if strings.HasSuffix(strings.ToUpper(c.algorithm), "-SESS") {
		ha1 = c.h(ha1, c.nonce, cnonce)
	}
	ha2 := c.h(method, uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`,
		quote(username), quote(c.realm), quote(c.nonce), quote(uri))
	if c.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", c.algorithm)
	}
	if c.qopAuth {
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s", response="%s"`, nc, cnonce, c.h(ha1, c.nonce, nc, cnonce, "auth", ha2))
	} else {
		fmt.Fprintf(&b, `, response="%s"`, c.h(ha1, c.nonce, ha2))
	}
	if c.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, quote(c.opaque))
	}
	return b.String(), nil
}

// quote escapes a quoted-string's content.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

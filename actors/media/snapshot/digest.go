package snapshot

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// HTTP authentication as cameras ask for it (RFC 7235): Digest (RFC 7616,
// and RFC 2617's MD5 with or without qop=auth) or Basic (RFC 7617). The
// onvif package has its own, unexported; this one answers one challenge.

// challenge is one of a WWW-Authenticate header's challenges.
type challenge struct {
	scheme string // lower case
	params map[string]string
}

// parseChallenges reads every challenge of the WWW-Authenticate headers;
// one header may carry several (`Basic realm="a", Digest realm="b", …`).
func parseChallenges(h http.Header) []challenge {
	var out []challenge
	for _, v := range h.Values("WWW-Authenticate") {
		var cur *challenge
		s := v
		for len(out) < 16 {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			tok := s[:tokenEnd(s)]
			if tok == "" { // stray character
				s = s[1:]
				continue
			}
			s = strings.TrimLeft(s[len(tok):], " \t")
			if !strings.HasPrefix(s, "=") {
				// a token alone starts a challenge (or is a token68, as
				// Negotiate's: then a scheme nobody answers)
				out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
				cur = &out[len(out)-1]
				continue
			}
			val, rest := authValue(strings.TrimLeft(s[1:], " \t"))
			s = rest
			if cur != nil && len(cur.params) < 32 {
				cur.params[strings.ToLower(tok)] = val
			}
		}
	}
	return out
}

// tokenEnd is where the token at the start of s ends.
func tokenEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', ',', '=', '"':
			return i
		}
	}
	return len(s)
}

// authValue reads a parameter's value, a token or a quoted string, and
// returns it with what follows.
func authValue(s string) (val, rest string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s, ',')
		if end < 0 {
			end = len(s)
		}
		return strings.TrimSpace(s[:end]), s[end:]
	}
	var b strings.Builder
	i := 1
	for ; i < len(s) && s[i] != '"'; i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), s[min(i+1, len(s)):]
}

// digest is a Digest challenge we can answer.
type digest struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool
}

// newDigest accepts a Digest challenge with an algorithm we speak (MD5,
// SHA-256, their -sess forms) and a qop we speak (auth, or none).
func newDigest(c challenge) (*digest, bool) {
	if c.scheme != "digest" || c.params["nonce"] == "" {
		return nil, false
	}
	d := &digest{realm: c.params["realm"], nonce: c.params["nonce"], opaque: c.params["opaque"], algorithm: c.params["algorithm"]}
	if d.newHash() == nil {
		return nil, false
	}
	if qop, ok := c.params["qop"]; ok {
		for q := range strings.SplitSeq(qop, ",") {
			d.qopAuth = d.qopAuth || strings.EqualFold(strings.TrimSpace(q), "auth")
		}
		if !d.qopAuth {
			return nil, false // auth-int only: we do not hash bodies
		}
	}
	return d, true
}

func (d *digest) newHash() hash.Hash {
	switch strings.ToUpper(d.algorithm) {
	case "", "MD5", "MD5-SESS":
		return md5.New()
	case "SHA-256", "SHA-256-SESS":
		return sha256.New()
	}
	return nil
}

func (d *digest) h(parts ...string) string {
	hh := d.newHash()
	hh.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(hh.Sum(nil))
}

// authorization answers the challenge for one request (nc: how many times
// this nonce was used, from 1).
func (d *digest) authorization(method, uri, username, password, cnonce string, nc uint32) string {
	ha1 := d.h(username, d.realm, password)
	if strings.HasSuffix(strings.ToUpper(d.algorithm), "-SESS") {
		ha1 = d.h(ha1, d.nonce, cnonce)
	}
	ha2 := d.h(method, uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`, quote(username), quote(d.realm), quote(d.nonce), quote(uri))
	if d.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", d.algorithm)
	}
	if d.qopAuth {
		ncs := fmt.Sprintf("%08x", nc)
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s", response="%s"`, ncs, cnonce, d.h(ha1, d.nonce, ncs, cnonce, "auth", ha2))
	} else {
		fmt.Fprintf(&b, `, response="%s"`, d.h(ha1, d.nonce, ha2))
	}
	if d.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, quote(d.opaque))
	}
	return b.String()
}

// quote escapes a quoted-string's content.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// answerChallenge picks the strongest challenge of a 401 we can answer
// (Digest SHA-256, Digest MD5, Basic) and returns the Authorization header
// for the request to retry; ok false when there is none.
func answerChallenge(h http.Header, method, uri, username, password string) (authz string, ok bool) {
	var best *digest
	basic := false
	for _, c := range parseChallenges(h) {
		if d, ok := newDigest(c); ok {
			if best == nil || strings.HasPrefix(strings.ToUpper(d.algorithm), "SHA-256") && !strings.HasPrefix(strings.ToUpper(best.algorithm), "SHA-256") {
				best = d
			}
		}
		basic = basic || c.scheme == "basic"
	}
	switch {
	case best != nil:
		return best.authorization(method, uri, username, password, newCnonce(), 1), true
	case basic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+password)), true
	}
	return "", false
}

func newCnonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Package httpauth answers HTTP authentication challenges as cameras send
// them (RFC 7235): Digest (RFC 7616's SHA-256 and MD5, their -sess forms,
// with qop=auth or RFC 2069's none) and, when allowed, Basic (RFC 7617).
//
// A client keeps an Authorizer per server: after a 401 it adopts the
// server's best challenge (Challenge), then signs each request with it
// (Header), counting nc up, until another 401 brings a new challenge.
package httpauth

import (
	"net/http"
	"strings"
)

// Bounds of ParseChallenges, whatever the headers hold.
const (
	maxChallenges = 16 // over all the WWW-Authenticate headers
	maxParams     = 32 // per challenge
)

// Challenge is one WWW-Authenticate challenge: its scheme and parameters.
type Challenge struct {
	Scheme string            // lower case: "basic", "digest", "negotiate", …
	Params map[string]string // names in lower case, values unquoted
}

// ParseChallenges reads every challenge of every WWW-Authenticate header of
// h; one header may carry several (`Basic realm="a", Digest realm="b", …`).
// It keeps at most 16 challenges of at most 32 parameters each, and reads
// garbage as best it can, without failing.
func ParseChallenges(h http.Header) []Challenge {
	var out []Challenge
	for _, v := range h.Values("WWW-Authenticate") {
		out = parseValue(v, out)
	}
	return out
}

// parseValue appends the challenges of one header value to out. A
// parameter before any challenge is dropped; so is a token68 (Negotiate's),
// which reads as a parameter of its challenge: nobody answers those.
func parseValue(s string, out []Challenge) []Challenge {
	var cur *Challenge
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		tok := s[:tokenEnd(s)]
		if tok == "" { // a stray character
			s = s[1:]
			continue
		}
		s = strings.TrimLeft(s[len(tok):], " \t")
		if !strings.HasPrefix(s, "=") { // a token alone starts a challenge
			if len(out) == maxChallenges {
				return out
			}
			out = append(out, Challenge{Scheme: strings.ToLower(tok), Params: map[string]string{}})
			cur = &out[len(out)-1]
			continue
		}
		var val string
		val, s = paramValue(strings.TrimLeft(s[1:], " \t"))
		if cur != nil && len(cur.Params) < maxParams {
			cur.Params[strings.ToLower(tok)] = val
		}
	}
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

// paramValue reads a parameter's value, a token or a quoted string, and
// returns it with what follows.
func paramValue(s string) (val, rest string) {
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

// quote escapes a quoted-string's content.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

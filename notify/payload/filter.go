package payload

import "strings"

// Match reports whether eventType passes filter: an entry is an exact type
// ("device.offline"), a prefix wildcard ("alarm.*" — every type of that
// first word) or "*"; an empty filter passes everything.
func Match(filter []string, eventType string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f == "*" || f == eventType {
			return true
		}
		if p, ok := strings.CutSuffix(f, "*"); ok && strings.HasSuffix(p, ".") && strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}

// ValidFilter reports whether f may be a filter entry: a type-shaped token
// (^[a-z_]+(\.[a-z_]+)?$), "<word>.*" or "*". It does not ask that the type
// exist, so a subscription may name types of a later version.
func ValidFilter(f string) bool {
	if f == "*" {
		return true
	}
	word, rest, dotted := strings.Cut(f, ".")
	if !isWord(word) {
		return false
	}
	return !dotted || rest == "*" || isWord(rest)
}

// isWord reports whether s matches ^[a-z_]+$.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

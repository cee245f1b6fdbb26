package httpauth

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
	"sync"
)

// Schemes are the challenges an Authorizer may answer.
type Schemes int

const (
	// DigestOnly answers Digest challenges only: the password never
	// leaves in the clear, even when the server offers Basic.
	DigestOnly Schemes = iota
	// DigestOrBasic answers Basic when the server offers no Digest
	// challenge we speak (and only when it offers Basic).
	DigestOrBasic
)

// Authorizer answers a server's challenges for one username and password,
// and keeps the challenge adopted so that later requests answer it at once
// (Digest's nc counting up). It is safe for concurrent use.
type Authorizer struct {
	username, password string
	schemes            Schemes

	mu     sync.Mutex
	digest *digest // the adopted Digest challenge, or nil
	basic  bool    // Basic adopted
	nc     uint32  // requests that answered digest
}

// NewAuthorizer returns an Authorizer that has adopted no challenge yet.
func NewAuthorizer(username, password string, schemes Schemes) *Authorizer {
	return &Authorizer{username: username, password: password, schemes: schemes}
}

// Challenge adopts the best challenge of a 401's headers that a may answer:
// Digest SHA-256, then Digest MD5 (the first of equals), then Basic if
// allowed. It returns false, keeping what was adopted before, when there
// is none.
func (a *Authorizer) Challenge(h http.Header) bool {
	var best *digest
	basic := false
	for _, c := range ParseChallenges(h) {
		if d, ok := newDigest(c); ok && (best == nil || d.sha256() && !best.sha256()) {
			best = d
		}
		basic = basic || c.Scheme == "basic"
	}
	basic = basic && a.schemes == DigestOrBasic
	if best == nil && !basic {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.digest, a.basic, a.nc = best, best == nil, 0
	return true
}

// Header is the Authorization header's value for a request (its method,
// and its URI as in the request line: URL.RequestURI()), once a challenge
// was adopted; ok is false before.
func (a *Authorizer) Header(method, uri string) (value string, ok bool) {
	a.mu.Lock()
	d, basic := a.digest, a.basic
	if d != nil {
		a.nc++
	}
	nc := a.nc
	a.mu.Unlock()
	switch {
	case d != nil:
		return d.authorization(method, uri, a.username, a.password, newCnonce(), nc), true
	case basic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.username+":"+a.password)), true
	}
	return "", false
}

// digest is a Digest challenge we can answer.
type digest struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool
}

// newDigest accepts a Digest challenge with a nonce, an algorithm we speak
// (MD5, SHA-256, their -sess forms) and a qop we speak (auth, or none).
func newDigest(c Challenge) (*digest, bool) {
	if c.Scheme != "digest" || c.Params["nonce"] == "" {
		return nil, false
	}
	d := &digest{realm: c.Params["realm"], nonce: c.Params["nonce"], opaque: c.Params["opaque"], algorithm: c.Params["algorithm"]}
	if d.newHash() == nil {
		return nil, false
	}
	if qop, ok := c.Params["qop"]; ok {
		for q := range strings.SplitSeq(qop, ",") {
			d.qopAuth = d.qopAuth || strings.EqualFold(strings.TrimSpace(q), "auth")
		}
		if !d.qopAuth {
			return nil, false // auth-int only: we do not hash bodies
		}
	}
	return d, true
}

func (d *digest) sha256() bool {
	return strings.HasPrefix(strings.ToUpper(d.algorithm), "SHA-256")
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

func newCnonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

package onvifsrv

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/onvif"
)

// passwordTextType is the UsernameToken password type of a clear password.
const passwordTextType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"

// maxNonces bounds the replay cache; past it, expired nonces are dropped
// and, under a flood, the oldest half.
const maxNonces = 4096

// authenticator checks WS-Security UsernameTokens, as strict cameras do:
// the password (digest or text), Created within MaxClockSkew of the
// camera's clock, and no nonce twice.
type authenticator struct {
	username, password string
	now                func() time.Time // the camera's clock

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when it may be forgotten
}

func newAuthenticator(username, password string, now func() time.Time) *authenticator {
	return &authenticator{username: username, password: password, now: now, nonces: map[string]time.Time{}}
}

// check returns nil when header carries a valid UsernameToken, else why
// not (for the debug log: it never holds a password).
func (a *authenticator) check(header *elem) error {
	tok := header.childNS(onvif.NSWsse, "Security").childNS(onvif.NSWsse, "UsernameToken")
	if tok == nil {
		return errors.New("no wsse:Security/wsse:UsernameToken header")
	}
	user := tok.child("Username").text()
	pw := tok.child("Password")
	if pw == nil {
		return errors.New("no Password in the UsernameToken")
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(a.username)) == 1

	createdText := tok.child("Created").text()
	var created time.Time
	if createdText != "" {
		t, err := parseXSDateTime(createdText)
		if err != nil {
			return fmt.Errorf("unparsable Created %q", createdText)
		}
		created = t
		if skew := t.Sub(a.now()); skew > MaxClockSkew || skew < -MaxClockSkew {
			return fmt.Errorf("Created %s is %s from the camera's clock (at most %s allowed)", createdText, skew.Round(time.Second), MaxClockSkew)
		}
	}

	typ, _ := pw.attr("Type")
	switch typ {
	case onvif.PasswordDigestType:
		nonceText := tok.child("Nonce").text()
		if nonceText == "" || createdText == "" {
			return errors.New("a PasswordDigest needs a Nonce and a Created")
		}
		if enc, ok := tok.child("Nonce").attr("EncodingType"); ok && enc != onvif.NonceEncoding {
			return fmt.Errorf("nonce encoding %q is not Base64Binary", enc)
		}
		nonce, err := base64.StdEncoding.DecodeString(nonceText)
		if err != nil {
			return errors.New("the Nonce is not base64")
		}
		want := onvif.PasswordDigest(nonce, createdText, a.password)
		if !userOK || subtle.ConstantTimeCompare([]byte(pw.text()), []byte(want)) != 1 {
			return fmt.Errorf("wrong user name or password digest (user %q)", user)
		}
		if !a.fresh(nonceText, created) {
			return errors.New("nonce replayed")
		}
	case "", passwordTextType:
		if !userOK || subtle.ConstantTimeCompare([]byte(pw.Text), []byte(a.password)) != 1 {
			return fmt.Errorf("wrong user name or password (user %q)", user)
		}
	default:
		return fmt.Errorf("unknown password type %q", strings.TrimSpace(typ))
	}
	return nil
}

// fresh records nonce and reports whether it was unseen. A nonce need only
// be remembered while its Created is acceptable.
func (a *authenticator) fresh(nonce string, created time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if until, seen := a.nonces[nonce]; seen && now.Before(until) {
		return false
	}
	if len(a.nonces) >= maxNonces {
		for n, until := range a.nonces {
			if !now.Before(until) {
				delete(a.nonces, n)
			}
		}
		for n := range a.nonces { // map order is random: drops about half
			if len(a.nonces) < maxNonces/2 {
				break
			}
			delete(a.nonces, n)
		}
	}
	a.nonces[nonce] = created.Add(MaxClockSkew)
	return true
}

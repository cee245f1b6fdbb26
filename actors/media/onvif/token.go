package onvif

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// createdLayout is wsu:Created: UTC, whole seconds, with Z. Some cameras
// refuse fractional seconds.
const createdLayout = "2006-01-02T15:04:05Z"

// PasswordTextType is the UsernameToken type carrying the password itself;
// the client never sends it, a server may accept it.
const PasswordTextType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"

// NewUsernameToken returns a digest token for username with a fresh 16-byte
// nonce, created at the given (camera clock) time.
func NewUsernameToken(username, password string, created time.Time) (*UsernameToken, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	c := created.UTC().Format(createdLayout)
	return &UsernameToken{
		Username: username,
		Password: TokenPassword{Type: PasswordDigestType, Value: PasswordDigest(nonce, c, password)},
		Nonce:    base64.StdEncoding.EncodeToString(nonce),
		Created:  c,
	}, nil
}

// CheckPassword reports whether the token proves password: its digest
// matches (or, for a PasswordText token, the text does).
func (t *UsernameToken) CheckPassword(password string) bool {
	var want string
	switch t.Password.Type {
	case PasswordTextType:
		want = password
	case PasswordDigestType, "":
		nonce, err := base64.StdEncoding.DecodeString(t.Nonce)
		if err != nil {
			return false
		}
		want = PasswordDigest(nonce, t.Created, password)
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(t.Password.Value)) == 1
}

// CreatedTime parses wsu:Created.
func (t *UsernameToken) CreatedTime() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, t.Created)
}

// Package token signs and checks the expiring stream tokens carried by live
// URLs (RTSP and HLS): HMAC-SHA256 under a key derived from ARGUS_SECRET over
// device, channel and expiry. Any node can check a token any node signed.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/secret"
)

var (
	ErrMissing = errors.New("token: missing")
	ErrInvalid = errors.New("token: invalid")
	ErrExpired = errors.New("token: expired")
	ErrScope   = errors.New("token: not for this stream")
)

// Signer makes and checks tokens.
type Signer struct{ key []byte }

// NewSigner derives the token key from the cluster secret.
func NewSigner(clusterSecret []byte) *Signer {
	return &Signer{key: secret.Derive(clusterSecret, "stream-token/v1")}
}

// Sign returns a token for device/channel valid until expires:
// "<unix expiry>.<base64url mac>".
func (s *Signer) Sign(device string, channel int, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(s.mac(device, channel, exp))
}

// Check verifies tok for device/channel at time now.
func (s *Signer) Check(tok, device string, channel int, now time.Time) error {
	if tok == "" {
		return ErrMissing
	}
	exp, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return ErrInvalid
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return ErrInvalid
	}
	if !hmac.Equal(got, s.mac(device, channel, exp)) {
		return ErrScope // forged, or signed for another stream
	}
	if now.Unix() > unix {
		return ErrExpired
	}
	return nil
}

func (s *Signer) mac(device string, channel int, exp string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(device + "\x00" + strconv.Itoa(channel) + "\x00" + exp))
	return m.Sum(nil)
}

// Package webhook makes one signed HTTP delivery attempt after the Standard
// Webhooks specification (https://www.standardwebhooks.com/): headers
// webhook-id, webhook-timestamp and webhook-signature, an HMAC-SHA256 under
// the endpoint's "whsec_" secret. Retries, ordering and disabling are the
// delivery loop's; this package says what an attempt got and whether another
// is worth it. Targets in private networks are refused at connect time
// unless allowed (guard.go).
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secretPrefix marks a Standard Webhooks secret; the rest is base64.
const secretPrefix = "whsec_"

// Key sizes the specification allows (24 to 64 bytes); NewSecret uses 24.
const (
	minKey = 24
	maxKey = 64
)

// NewSecret returns a new endpoint secret "whsec_<base64 of 24 random bytes>".
func NewSecret() string {
	k := make([]byte, minKey)
	rand.Read(k) // never fails (crypto/rand panics rather than return short)
	return secretPrefix + base64.StdEncoding.EncodeToString(k)
}

// CheckSecret reports why secret is not a usable endpoint secret: the
// prefix, standard base64, 24 to 64 bytes of key.
func CheckSecret(secret string) error {
	_, err := key(secret)
	return err
}

func key(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("webhook: the secret must start with " + secretPrefix)
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("webhook: the secret is not base64 after " + secretPrefix)
	}
	if len(k) < minKey || len(k) > maxKey {
		return nil, fmt.Errorf("webhook: the secret must hold %d to %d bytes, not %d", minKey, maxKey, len(k))
	}
	return k, nil
}

// Sign returns the webhook-signature header value
// "v1,<base64 HMAC-SHA256(key, id+"."+ts+"."+body)>" where key is the
// base64-decoded part after "whsec_" and ts the unix seconds of ts.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

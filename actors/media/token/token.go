// Package token signs and checks the stream tokens carried by live and
// playback URLs (RTSP, HLS, MP4), so players that cannot send an API key
// still get in, and only where they were let in:
//
//   - a live token opens one channel's live stream;
//   - a playback token opens one channel's recordings in one time range.
//
// Each carries the id of the API key that minted it and its expiry; a
// token of a deleted key is refused (Signer's KeyCheck). Tokens are
// HMAC-SHA256 under a key derived from ARGUS_SECRET, so any node checks
// what any node signed.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/secret"
)

var (
	ErrMissing = errors.New("token: missing")
	ErrInvalid = errors.New("token: invalid")
	ErrExpired = errors.New("token: expired")
	ErrScope   = errors.New("token: not for this stream")
	ErrRange   = errors.New("token: outside the time range it opens")
	ErrRevoked = errors.New("token: its key was deleted")
)

// Kind is what a token opens.
type Kind string

const (
	Live     Kind = "live"
	Playback Kind = "playback"
	// Result opens the files of one task's result (a VOD's HLS ladder):
	// Device holds the task id, Channel 0.
	Result Kind = "result"
	// Publish lets a live transcode push one channel's rendition into its
	// owner's relay (minted by nodes only, for the task).
	Publish Kind = "publish"
)

// Claims are what a token says.
type Claims struct {
	Kind    Kind
	Device  string
	Channel int
	// From and To bound the recordings a playback token opens.
	From, To time.Time
	Expires  time.Time
	KeyID    string // the key that minted it
}

// Signer makes and checks tokens.
type Signer struct {
	key []byte
	// KeyCheck, when set, says whether a key id still exists: tokens of
	// other keys are refused (ErrRevoked).
	KeyCheck func(keyID string) bool
}

// NewSigner derives the token key from the cluster secret.
func NewSigner(clusterSecret []byte) *Signer {
	return &Signer{key: secret.Derive(clusterSecret, "stream-token/v2")}
}

// The payload is "2|kind|device|channel|from|to|expires|key" (unix
// seconds; from and to 0 for live), then "." and the MAC, both base64url.
// Device and key ids never hold '|' (events.ValidID).
const version = "2"

// Sign returns a token with c's claims.
func (s *Signer) Sign(c Claims) string {
	var from, to int64
	if c.Kind == Playback { // whole seconds that cover the range
		from, to = c.From.Unix(), c.To.Unix()
		if c.To.Nanosecond() > 0 {
			to++
		}
	}
	payload := strings.Join([]string{version, string(c.Kind), c.Device, strconv.Itoa(c.Channel),
		strconv.FormatInt(from, 10), strconv.FormatInt(to, 10), strconv.FormatInt(c.Expires.Unix(), 10), c.KeyID}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// Parse verifies tok's MAC, expiry and key at now and returns its claims.
func (s *Signer) Parse(tok string, now time.Time) (Claims, error) {
	if tok == "" {
		return Claims{}, ErrMissing
	}
	p64, sig64, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 1024 {
		return Claims{}, ErrInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	if !hmac.Equal(sig, s.mac(string(payload))) {
		return Claims{}, ErrInvalid // forged, or another cluster's
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 8 || f[0] != version {
		return Claims{}, ErrInvalid
	}
	c := Claims{Kind: Kind(f[1]), Device: f[2], KeyID: f[7]}
	nums := make([]int64, 4)
	for i, v := range f[3:7] {
		if nums[i], err = strconv.ParseInt(v, 10, 64); err != nil {
			return Claims{}, ErrInvalid
		}
	}
	c.Channel = int(nums[0])
	c.Expires = time.Unix(nums[3], 0)
	if c.Kind == Playback {
		c.From, c.To = time.Unix(nums[1], 0), time.Unix(nums[2], 0)
	} else if c.Kind != Live && c.Kind != Result && c.Kind != Publish {
		return Claims{}, ErrInvalid
	}
	if !events.ValidID(c.Device) {
		return Claims{}, ErrInvalid
	}
	if now.After(c.Expires) {
		return Claims{}, ErrExpired
	}
	if s.KeyCheck != nil && !s.KeyCheck(c.KeyID) {
		return Claims{}, ErrRevoked
	}
	return c, nil
}

// CheckLive verifies tok opens the live stream of device/channel.
func (s *Signer) CheckLive(tok, device string, channel int, now time.Time) (Claims, error) {
	c, err := s.Parse(tok, now)
	if err != nil {
		return c, err
	}
	if c.Kind != Live || c.Device != device || c.Channel != channel {
		return c, ErrScope
	}
	return c, nil
}

// CheckPublish verifies tok lets its bearer publish a rendition of
// device/channel.
func (s *Signer) CheckPublish(tok, device string, channel int, now time.Time) (Claims, error) {
	c, err := s.Parse(tok, now)
	if err != nil {
		return c, err
	}
	if c.Kind != Publish || c.Device != device || c.Channel != channel {
		return c, ErrScope
	}
	return c, nil
}

// CheckPlayback verifies tok opens device/channel's recordings in
// [from, to).
func (s *Signer) CheckPlayback(tok, device string, channel int, from, to, now time.Time) (Claims, error) {
	c, err := s.Parse(tok, now)
	if err != nil {
		return c, err
	}
	if c.Kind != Playback || c.Device != device || c.Channel != channel {
		return c, ErrScope
	}
	if from.Before(c.From) || to.After(c.To) {
		return c, ErrRange
	}
	return c, nil
}

// CheckResult verifies tok opens the result files of task id.
func (s *Signer) CheckResult(tok, id string, now time.Time) (Claims, error) {
	c, err := s.Parse(tok, now)
	if err != nil {
		return c, err
	}
	if c.Kind != Result || c.Device != id {
		return c, ErrScope
	}
	return c, nil
}

// Valid reports whether claims checked earlier still hold at now (not
// expired, key not deleted): sessions opened with a token end when it
// stops being valid.
func (s *Signer) Valid(c Claims, now time.Time) error {
	if now.After(c.Expires) {
		return ErrExpired
	}
	if s.KeyCheck != nil && !s.KeyCheck(c.KeyID) {
		return ErrRevoked
	}
	return nil
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

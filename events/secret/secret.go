// Package secret seals camera credentials before they enter the event log,
// so the log, its backups and its projections never hold a password in clear.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Sealer encrypts with AES-256-GCM under a key derived from the cluster
// secret (ARGUS_SECRET), so every node can open what any node sealed.
type Sealer struct{ aead cipher.AEAD }

// Derive returns a purpose-bound subkey of the cluster secret.
func Derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("argus/" + purpose))
	return m.Sum(nil)
}

// NewSealer builds the credentials sealer from the cluster secret.
func NewSealer(clusterSecret []byte) (*Sealer, error) {
	if len(clusterSecret) < 16 {
		return nil, errors.New("secret: cluster secret must be at least 16 bytes")
	}
	return NewSealerFor(clusterSecret, "credentials/v1")
}

// NewSealerFor builds a sealer under the purpose-bound subkey of secret
// (for instance a caller's API key, so only that caller's requests can
// open what was sealed for it).
func NewSealerFor(secret []byte, purpose string) (*Sealer, error) {
	block, err := aes.NewCipher(Derive(secret, purpose))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; an empty password seals to nil.
func (s *Sealer) Seal(plain string) []byte {
	if plain == "" {
		return nil
	}
	return s.SealBytes([]byte(plain), nil)
}

// SealBytes encrypts plain bound to aad (which Open must be given again).
func (s *Sealer) SealBytes(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	plain, err := s.OpenBytes(sealed, nil)
	if err != nil {
		return "", errors.New("secret: cannot open sealed value (wrong ARGUS_SECRET?)")
	}
	return string(plain), nil
}

// OpenBytes decrypts what SealBytes produced with the same aad.
func (s *Sealer) OpenBytes(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("secret: sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

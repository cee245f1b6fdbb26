package secret

import (
	"bytes"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := NewSealer([]byte("cluster-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("hunter2")
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if bytes.Equal(sealed, s.Seal("hunter2")) {
		t.Fatal("sealing is deterministic: nonce reuse")
	}
	if got, err := s.Open(sealed); err != nil || got != "hunter2" {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := NewSealer([]byte("another-secret-0123456789"))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("opened with the wrong secret")
	}
	if s.Seal("") != nil {
		t.Fatal("empty password should seal to nil")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

package webhook

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The specification's own example (also in the reference libraries' tests).
func TestSignKnownVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %s %s", a, b)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil || len(k) != 24 {
		t.Fatalf("key of %s: %d bytes, %v", a, len(k), err)
	}
	if err := CheckSecret(a); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefusesMalformedSecrets(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!", short, long} {
		if _, err := Sign(s, "id", time.Now(), nil); err == nil || !strings.HasPrefix(err.Error(), "webhook: ") {
			t.Errorf("secret %q: %v", s, err)
		}
	}
}

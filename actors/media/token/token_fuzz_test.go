package token

import (
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
)

// FuzzParse: any string parses without panicking; a token that parses is
// exactly what signing its claims gives (nothing but the signer makes
// one); and claims signed come back unchanged for the stream they name.
func FuzzParse(f *testing.F) {
	s := NewSigner([]byte("cluster-secret-0123456789"))
	now := time.Unix(1_800_000_000, 0)
	valid := s.Sign(Claims{Kind: Playback, Device: "cam1", Channel: 3, From: now.Add(-time.Hour), To: now, Expires: now.Add(time.Minute), KeyID: "k1"})
	for _, seed := range []string{"", ".", "a.b", valid, valid + "x", strings.Replace(valid, ".", "..", 1),
		s.Sign(Claims{Kind: Live, Device: "x", Channel: 1, Expires: now.Add(time.Hour)})} {
		f.Add(seed, "dev-1", 1, int64(60))
	}
	f.Fuzz(func(t *testing.T, tok, device string, channel int, ttl int64) {
		if c, err := s.Parse(tok, now); err == nil && s.Sign(c) != tok {
			t.Fatalf("%q parsed to %+v, which signs to another token", tok, c)
		}
		if ttl <= 0 || ttl > 1<<31 {
			return
		}
		in := Claims{Kind: Live, Device: device, Channel: channel, Expires: now.Add(time.Duration(ttl) * time.Second).Truncate(time.Second), KeyID: "k"}
		got, err := s.CheckLive(s.Sign(in), device, channel, now)
		switch {
		case events.ValidID(device) && (err != nil || got != in):
			t.Fatalf("round trip of %+v: %+v %v", in, got, err)
		case !events.ValidID(device) && err == nil:
			t.Fatalf("a token for the invalid device id %q was accepted", device)
		}
	})
}

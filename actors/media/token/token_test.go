package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLiveToken(t *testing.T) {
	s := NewSigner([]byte("cluster-secret-0123456789"))
	now := time.Unix(1_800_000_000, 0)
	tok := s.Sign(Claims{Kind: Live, Device: "cam1", Channel: 2, Expires: now.Add(time.Minute), KeyID: "k1"})
	c, err := s.CheckLive(tok, "cam1", 2, now)
	if err != nil || c.KeyID != "k1" || !c.Expires.Equal(now.Add(time.Minute)) {
		t.Fatalf("%+v %v", c, err)
	}
	other := NewSigner([]byte("another-secret-0123456789")).Sign(Claims{Kind: Live, Device: "cam1", Channel: 2, Expires: now.Add(time.Minute)})
	payload, sig, _ := strings.Cut(tok, ".")
	cases := []struct {
		tok, dev string
		ch       int
		at       time.Time
		want     error
	}{
		{"", "cam1", 2, now, ErrMissing},
		{"garbage", "cam1", 2, now, ErrInvalid},
		{"a.!!", "cam1", 2, now, ErrInvalid},
		{tok, "cam2", 2, now, ErrScope},
		{tok, "cam1", 1, now, ErrScope},
		{tok, "cam1", 2, now.Add(2 * time.Minute), ErrExpired},
		{payload + "x." + sig, "cam1", 2, now, ErrInvalid}, // payload edited
		{other, "cam1", 2, now, ErrInvalid},
	}
	for i, c := range cases {
		if _, err := s.CheckLive(c.tok, c.dev, c.ch, c.at); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
	// A live token opens no recording.
	if _, err := s.CheckPlayback(tok, "cam1", 2, now.Add(-time.Hour), now, now); !errors.Is(err, ErrScope) {
		t.Errorf("live token on a recording: %v", err)
	}
}

func TestPlaybackTokenOpensItsRangeOnly(t *testing.T) {
	s := NewSigner([]byte("cluster-secret-0123456789"))
	now := time.Unix(1_800_000_000, 0)
	from, to := now.Add(-2*time.Hour), now.Add(-time.Hour)
	tok := s.Sign(Claims{Kind: Playback, Device: "cam1", Channel: 1, From: from, To: to, Expires: now.Add(time.Minute), KeyID: "k1"})
	if _, err := s.CheckPlayback(tok, "cam1", 1, from, to, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPlayback(tok, "cam1", 1, from.Add(10*time.Minute), to.Add(-10*time.Minute), now); err != nil {
		t.Fatalf("inside: %v", err)
	}
	if _, err := s.CheckPlayback(tok, "cam1", 1, from.Add(-time.Second), to, now); !errors.Is(err, ErrRange) {
		t.Errorf("before: %v", err)
	}
	if _, err := s.CheckPlayback(tok, "cam1", 1, from, to.Add(time.Second), now); !errors.Is(err, ErrRange) {
		t.Errorf("after: %v", err)
	}
	if _, err := s.CheckLive(tok, "cam1", 1, now); !errors.Is(err, ErrScope) {
		t.Errorf("playback token on live: %v", err)
	}
}

func TestTokenOfADeletedKeyIsRefused(t *testing.T) {
	s := NewSigner([]byte("cluster-secret-0123456789"))
	alive := map[string]bool{"k1": true}
	s.KeyCheck = func(id string) bool { return alive[id] }
	now := time.Unix(1_800_000_000, 0)
	c := Claims{Kind: Live, Device: "cam1", Channel: 1, Expires: now.Add(time.Minute), KeyID: "k1"}
	tok := s.Sign(c)
	if _, err := s.CheckLive(tok, "cam1", 1, now); err != nil {
		t.Fatal(err)
	}
	delete(alive, "k1")
	if _, err := s.CheckLive(tok, "cam1", 1, now); !errors.Is(err, ErrRevoked) {
		t.Errorf("deleted key: %v", err)
	}
	if err := s.Valid(c, now); !errors.Is(err, ErrRevoked) {
		t.Errorf("Valid: %v", err)
	}
}

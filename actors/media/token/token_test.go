package token

import (
	"errors"
	"testing"
	"time"
)

func TestSignCheck(t *testing.T) {
	s := NewSigner([]byte("cluster-secret-0123456789"))
	now := time.Unix(1_800_000_000, 0)
	tok := s.Sign("cam1", 2, now.Add(time.Minute))
	if err := s.Check(tok, "cam1", 2, now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tok, dev string
		ch       int
		at       time.Time
		want     error
	}{
		{"", "cam1", 2, now, ErrMissing},
		{"garbage", "cam1", 2, now, ErrInvalid},
		{"123.!!", "cam1", 2, now, ErrInvalid},
		{tok, "cam2", 2, now, ErrScope},
		{tok, "cam1", 1, now, ErrScope},
		{tok, "cam1", 2, now.Add(2 * time.Minute), ErrExpired},
		{"9999999999." + tok[len("1800000060."):], "cam1", 2, now, ErrScope}, // expiry edited
		{NewSigner([]byte("another-secret-0123456789")).Sign("cam1", 2, now.Add(time.Minute)), "cam1", 2, now, ErrScope},
	}
	for i, c := range cases {
		if err := s.Check(c.tok, c.dev, c.ch, c.at); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
}

package backoff

import (
	"testing"
	"time"
)

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		if d := b.Next(); d < w || d > w+w/10 || d > time.Second {
			t.Fatalf("attempt %d: %v, want %v..%v (cap 1s)", i, d, w, w+w/10)
		}
	}
	b.Reset()
	if d := b.Next(); d < 100*time.Millisecond || d > 110*time.Millisecond {
		t.Fatalf("after reset: %v", d)
	}
}

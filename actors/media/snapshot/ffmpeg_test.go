package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFromKeyframe(t *testing.T) {
	t.Parallel()
	kf := keyframe(t)
	g := New(Options{})
	for _, tc := range []struct{ width, w, h int }{
		{0, 640, 360},
		{320, 320, 180},
		{321, 321, 180}, // odd widths are fine; the height stays even
		{1280, 1280, 720},
	} {
		start := time.Now()
		jpg, err := g.FromKeyframe(ctxT(t), "cam-1~1", kf, tc.width)
		if err != nil {
			t.Fatalf("width %d: %v", tc.width, err)
		}
		wantJPEG(t, jpg, tc.w, tc.h)
		t.Logf("width %d: %d bytes in %v", tc.width, len(jpg), time.Since(start).Round(time.Millisecond))
	}
}

func TestFromKeyframeErrors(t *testing.T) {
	t.Parallel()
	kf := keyframe(t)
	for _, w := range []int{-1, 1, 15, 3841} {
		if _, err := New(Options{}).FromKeyframe(ctxT(t), "k", kf, w); !errors.Is(err, ErrBadWidth) {
			t.Errorf("width %d: %v, want ErrBadWidth", w, err)
		}
	}
	for _, w := range []int{16, 3840} {
		if err := checkWidth(w); err != nil {
			t.Errorf("width %d: %v", w, err)
		}
	}

	if _, err := New(Options{}).FromKeyframe(ctxT(t), "k", []byte("\x00\x00\x00\x01garbage, not H.264"), 0); err == nil || errors.Is(err, ErrBadWidth) {
		t.Errorf("garbage: %v, want an ffmpeg error", err)
	} else {
		t.Logf("garbage: %v", err)
	}
	if _, err := New(Options{}).FromKeyframe(ctxT(t), "k", nil, 0); err == nil {
		t.Error("empty keyframe: no error")
	}

	_, err := New(Options{FFmpeg: "/nonexistent/ffmpeg"}).FromKeyframe(ctxT(t), "k", kf, 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ffmpeg") {
		t.Errorf("missing ffmpeg: %v", err)
	}

	_, err = New(Options{MaxBytes: 1000}).FromKeyframe(ctxT(t), "k", kf, 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBytes 1000: %v, want ErrTooLarge", err)
	}

	// an ffmpeg that hangs
	hung := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(hung, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = New(Options{FFmpeg: hung, Timeout: 200 * time.Millisecond}).FromKeyframe(ctxT(t), "k", kf, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung ffmpeg: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hung ffmpeg: returned after %v, Timeout 200ms", d)
	}
}

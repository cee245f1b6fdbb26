package snapshot

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// testKeyframe is one IDR access unit of testsrc2 at 640x360 (SPS and PPS
// in front), encoded by ffmpeg once per test binary.
var testKeyframe = sync.OnceValues(func() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=640x360", "-frames:v", "1",
		"-c:v", "libx264", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &exec.Error{Name: "ffmpeg " + stderr.String(), Err: err}
	}
	return out.Bytes(), nil
})

func keyframe(t *testing.T) []byte {
	t.Helper()
	kf, err := testKeyframe()
	if err != nil {
		t.Fatalf("encoding the test keyframe: %v", err)
	}
	return kf
}

// wantJPEG fails unless jpg is a JPEG of w x h.
func wantJPEG(t *testing.T, jpg []byte, w, h int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("not a JPEG (%d bytes): %v", len(jpg), err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Fatalf("JPEG is %dx%d, want %dx%d", cfg.Width, cfg.Height, w, h)
	}
}

// testJPEG is a JPEG of w x h made by image/jpeg.
func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

package onvifsrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNoFFmpeg is returned by Start when a snapshot is not cached yet and
// no ffmpeg binary is in PATH to render it.
var ErrNoFFmpeg = errors.New("onvifsrv: ffmpeg not found in PATH (needed once to render the snapshot JPEG); install ffmpeg (Debian: apt-get install ffmpeg; `make deps` does it)")

// snapshotVersion changes the cache file name whenever the rendering does.
const snapshotVersion = 1

// snapshots caches rendered JPEGs by size in the process; the file cache
// in os.TempDir() shares them between processes (test binaries).
var snapshots struct {
	sync.Mutex
	m map[[2]int][]byte
}

// loadSnapshot returns a JPEG of testsrc2 at width x height, rendering it
// with ffmpeg at most once per machine while the cached file stays.
func loadSnapshot(ctx context.Context, width, height int) ([]byte, error) {
	key := [2]int{width, height}
	snapshots.Lock()
	defer snapshots.Unlock() // renders are rare and short: one at a time
	if jpg, ok := snapshots.m[key]; ok {
		return jpg, nil
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("argus-onvifsrv-snapshot-v%d-%dx%d.jpg", snapshotVersion, width, height))
	jpg, err := os.ReadFile(path)
	if err != nil || checkJPEG(jpg, width, height) != nil {
		if jpg, err = renderSnapshot(ctx, path, width, height); err != nil {
			return nil, err
		}
	}
	if snapshots.m == nil {
		snapshots.m = map[[2]int][]byte{}
	}
	snapshots.m[key] = jpg
	return jpg, nil
}

// renderSnapshot runs ffmpeg into a temporary file next to path and
// renames it into place, so concurrent processes never read half a file.
func renderSnapshot(ctx context.Context, path string, width, height int) ([]byte, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.jpg")
	if err != nil {
		return nil, fmt.Errorf("onvifsrv: snapshot: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d", width, height),
		"-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", tmp.Name())
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("onvifsrv: ffmpeg snapshot %dx%d: %w: %s", width, height, err, strings.TrimSpace(string(out)))
	}
	jpg, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("onvifsrv: snapshot: %w", err)
	}
	if err := checkJPEG(jpg, width, height); err != nil {
		return nil, fmt.Errorf("onvifsrv: ffmpeg snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("onvifsrv: snapshot: %w", err)
	}
	return jpg, nil
}

func checkJPEG(jpg []byte, width, height int) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		return err
	}
	if cfg.Width != width || cfg.Height != height {
		return fmt.Errorf("JPEG is %dx%d, want %dx%d", cfg.Width, cfg.Height, width, height)
	}
	return nil
}

// snapshotURL is where GetSnapshotUri sends clients for ch.
func (s *Server) snapshotURL(ch *channel) string {
	return s.base + snapshotPath + url.PathEscape(ch.Token) + ".jpg"
}

// serveSnapshot answers GET /onvif/snapshot/<token>.jpg. Like many
// cameras' snapshot URLs it needs no authentication here.
func (s *Server) serveSnapshot(w http.ResponseWriter, req *http.Request) {
	tok, ok := strings.CutSuffix(req.PathValue("file"), ".jpg")
	ch := s.byToken[tok]
	if !ok || ch == nil {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	http.ServeContent(w, req, tok+".jpg", s.started, bytes.NewReader(ch.snapshot))
}

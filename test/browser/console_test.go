// Package browser drives the embedded web console in a real browser: Debian's
// headless chromium through playwright-core (console.mjs), against `argus
// dev` with a fake RTSP camera.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

const chromium = "/usr/bin/chromium"

// here is this package's directory (console.mjs, package.json).
func here() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// needTools fails the test, saying what to install, where node, npm,
// chromium or ffmpeg are missing: `make deps` (run by `make test`) installs
// them, and a browser test that does not run proves nothing.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make deps` (the console test needs node, npm, chromium and ffmpeg)", tool)
		}
	}
	if out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0] >= 20").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Fatalf("node %s is older than 20, which playwright-core and vite need: install Node 20 or later", nodeVersion())
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (Debian's chromium)", chromium)
	}
}

func nodeVersion() string {
	out, _ := exec.Command("node", "--version").Output()
	return strings.TrimSpace(string(out))
}

// npmCI installs the pinned playwright-core from the lockfile when missing.
func npmCI(t *testing.T) {
	t.Helper()
	dir := here()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in test/browser: %v\n%s", err, out)
	}
}

// shotsDir is ARGUS_BROWSER_SHOTS when set (kept), else a temp dir kept only
// when the test fails.
func shotsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ARGUS_BROWSER_SHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "argus-console-shots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept in %s", d)
			return
		}
		os.RemoveAll(d)
	})
	return d
}

// TestConsole: log in with the admin key, see the device in the list, get a
// field error for a bad URL in the add form, add and remove a device, filter
// by label, open the device page and watch its live video play (currentTime
// advances, videoWidth > 0) and its events, reload the deep link, play the
// live grid; then a viewer key follows a deep link through the login and
// sees no add or remove controls. No CSP violation or page error on the way,
// and the key never appears in a URL.
func TestConsole(t *testing.T) {
	needTools(t)
	npmCI(t)
	shots := shotsDir(t)

	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"cam1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--probe-interval", "1s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"cam-1","name":"front door","url":%q,"labels":{"site":"hq"}}`, cam.URL("cam1"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}

	for _, id := range []string{"pg-a", "pg-b"} { // three devices: two pages of two
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"paging","url":"rtsp://127.0.0.1:9/none"}`, id)); st != 201 {
			t.Fatalf("create %s: %d %s", id, st, body)
		}
	}
	st, _, body := n.Do("POST", "/v1/keys", "", `{"name":"wall","role":"viewer"}`)
	var viewer struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &viewer); st != 201 || err != nil || viewer.Key == "" {
		t.Fatalf("viewer key: %d %s", st, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "console.mjs")
	cmd.Dir = here()
	cmd.Env = append(os.Environ(), "BASE_URL="+n.HTTP, "ADMIN_KEY="+n.AdminKey, "VIEWER_KEY="+viewer.Key, "DEVICE_ID=cam-1", "SHOTS="+shots, "CHROMIUM="+chromium)
	// Chromium's helpers (crashpad) may outlive node holding the output pipe.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("console.mjs ran %.1f s", time.Since(start).Seconds())
	t.Logf("console.mjs:\n%s", out)
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // node itself exited 0
	}
	if err != nil {
		t.Fatalf("console scenario: %v (screenshots in %s)\nargus output:\n%s", err, shots, n.Output())
	}
}

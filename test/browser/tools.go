// Package browser drives the embedded web console in a real browser: Debian's
// headless chromium through playwright-core (the .mjs scripts here, run by
// node), for the console's test and its benchmark (test/bench).
package browser

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// Chromium is Debian's chromium, the browser every console test drives.
const Chromium = "/usr/bin/chromium"

// Dir is this package's directory (the .mjs scripts, package.json and
// node_modules), where node runs them.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// NeedTools fails the test, saying what to install, where node, npm,
// chromium or ffmpeg are missing: `make deps` (run by `make test`) installs
// them, and a browser test that does not run proves nothing.
func NeedTools(t testing.TB) {
	t.Helper()
	testenv.NeedNode(t, "the console test (playwright-core, vite)")
	testenv.NeedFFmpeg(t, "the console test's cameras")
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (Debian's chromium)", Chromium)
	}
}

// NPMCI installs the pinned playwright-core from the lockfile when missing.
func NPMCI(t testing.TB) {
	t.Helper()
	testenv.NPMCI(t, Dir(), "playwright-core")
}

// ShotsDir is ARGUS_BROWSER_SHOTS when set (kept), else a temp dir kept only
// when the test fails.
func ShotsDir(t testing.TB) string {
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

// RunScript runs a console scenario (node <script> here) against n, with
// BASE_URL, ADMIN_KEY, SHOTS and CHROMIUM set and env added, within
// timeout; a failing script fails the test with its output, the
// screenshots' place and the node's log.
func RunScript(t testing.TB, n *testenv.Node, script, shots string, timeout time.Duration, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), "BASE_URL="+n.HTTP, "ADMIN_KEY="+n.AdminKey, "SHOTS="+shots, "CHROMIUM="+Chromium)
	cmd.Env = append(cmd.Env, env...)
	// Chromium's helpers (crashpad) may outlive node holding the output pipe.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s ran %.1f s:\n%s", script, time.Since(start).Seconds(), out)
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // node itself exited 0
	}
	if err != nil {
		t.Fatalf("%s: %v (screenshots in %s)\nargus output:\n%s", script, err, shots, n.Output())
	}
}

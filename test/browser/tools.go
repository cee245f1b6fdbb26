// Package browser drives the embedded web console in a real browser: Debian's
// headless chromium through playwright-core (the .mjs scripts here, run by
// node), for the console's test and its benchmark (test/bench).
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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
	for _, tool := range []string{"node", "npm", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make deps` (the console test needs node, npm, chromium and ffmpeg)", tool)
		}
	}
	if out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0] >= 20").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Fatalf("node %s is older than 20, which playwright-core and vite need: install Node 20 or later", nodeVersion())
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (Debian's chromium)", Chromium)
	}
}

func nodeVersion() string {
	out, _ := exec.Command("node", "--version").Output()
	return strings.TrimSpace(string(out))
}

// NPMCI installs the pinned playwright-core from the lockfile when missing.
func NPMCI(t testing.TB) {
	t.Helper()
	dir := Dir()
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

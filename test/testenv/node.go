package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NeedNode fails the test, saying what to install, where node (20 or
// later) or npm is missing: `make deps` (run by `make test`) installs them,
// and a check with a Node client that does not run proves nothing. what
// names the check for the message.
func NeedNode(t testing.TB, what string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make deps` (%s needs node and npm)", tool, what)
		}
	}
	if out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0] >= 20").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		v, _ := exec.Command("node", "--version").Output()
		t.Fatalf("node %s is older than 20, which %s needs: install Node 20 or later", strings.TrimSpace(string(v)), what)
	}
}

// NPMCI installs dir's pinned packages from its lockfile (npm ci) unless
// node_modules/<module> is there already.
func NPMCI(t testing.TB, dir, module string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", module, "package.json")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	// playwright-core must not download browsers: Debian's chromium is used.
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

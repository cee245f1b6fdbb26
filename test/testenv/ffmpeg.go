package testenv

import (
	"os/exec"
	"testing"
)

// NeedFFmpeg fails the test, saying what to install, where ffmpeg is
// missing: `make deps` (run by `make test`) installs it, and a media test
// that does not run proves nothing. what names the test for the message.
func NeedFFmpeg(t testing.TB, what string) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatalf("ffmpeg is not installed: run `make deps` (%s needs it)", what)
	}
}

package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/argus-vms/argus/projections/chserver"
)

var (
	chOnce   sync.Once
	chShared *chserver.Server
	chErr    error
)

// sharedCHPrefix names the temp dir of the shared server; the pid after it
// lets a later test binary remove the dirs of dead ones.
const sharedCHPrefix = "argus-clickhouse-shared-"

// ClickHouse returns a clickhouse-server shared by every test in this test
// binary (started once, lazily; stopped when the process exits thanks to
// Pdeathsig). Tests isolate themselves by database or table names; use
// NewClickHouse to stop, kill or restart a server. It never skips: if the
// binary is missing it fails the test with a message saying `make test`
// installs it.
func ClickHouse(t testing.TB) *chserver.Server {
	t.Helper()
	chOnce.Do(func() {
		removeStaleSharedDirs()
		dir, err := os.MkdirTemp("", sharedCHPrefix+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			chErr = err
			return
		}
		chShared, chErr = chserver.Start(context.Background(), chserver.Options{Dir: dir})
		if chErr != nil {
			os.RemoveAll(dir)
		}
	})
	if chErr != nil {
		failClickHouse(t, chErr)
	}
	return chShared
}

// NewClickHouse starts a private clickhouse-server for a test that stops,
// kills, pauses or restarts it. It is stopped and its data dir removed by
// t.Cleanup.
func NewClickHouse(t testing.TB) *chserver.Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "argus-clickhouse-")
	if err != nil {
		t.Fatal(err)
	}
	s, err := chserver.Start(context.Background(), chserver.Options{Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		failClickHouse(t, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stop clickhouse-server: %v", err)
		}
		os.RemoveAll(dir)
	})
	return s
}

func failClickHouse(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, chserver.ErrNotInstalled) {
		t.Fatalf("clickhouse-server is required by this test and is not installed: %v\n"+
			"`make test` installs it (Debian: apt-get install -y clickhouse-server clickhouse-client)", err)
	}
	t.Fatalf("start clickhouse-server: %v", err)
}

// removeStaleSharedDirs removes, best effort, the data dirs that shared
// servers of test binaries no longer running left behind (a test binary has
// no hook to remove its own at exit).
func removeStaleSharedDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedCHPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), sharedCHPrefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

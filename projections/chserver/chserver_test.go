package chserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

func connect(t *testing.T, s *Server) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{s.Addr()},
		Auth: clickhouse.Auth{Database: "default", Username: "default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func count(t *testing.T, conn driver.Conn) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func startServer(t *testing.T) *Server {
	t.Helper()
	begin := time.Now()
	s, err := Start(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clickhouse-server ready on %s in %v", s.Addr(), time.Since(begin))
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestServerLifecycle(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	conn := connect(t, s)

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("server version %s", version)

	if err := conn.Exec(ctx, "CREATE TABLE t (a UInt64, s String) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	// 18.16 needs the explicit column list.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (a, s)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := batch.Append(uint64(i), fmt.Sprintf("row %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn); n != 1000 {
		t.Fatalf("count = %d, want 1000", n)
	}

	addr := s.Addr()
	begin := time.Now()
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Restart took %v", time.Since(begin))
	if s.Addr() != addr {
		t.Fatalf("Addr changed on Restart: %s -> %s", addr, s.Addr())
	}
	if n := count(t, connect(t, s)); n != 1000 {
		t.Fatalf("count after Restart = %d, want 1000", n)
	}

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("port still accepts connections after Kill")
	}
	if err := s.Pause(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Pause after Kill: %v, want ErrNotRunning", err)
	}
	begin = time.Now()
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Restart after Kill took %v", time.Since(begin))
	if n := count(t, connect(t, s)); n != 1000 {
		t.Fatalf("count after Kill+Restart = %d, want 1000", n)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestPauseResume(t *testing.T) {
	s := startServer(t)
	conn := connect(t, s)
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err := conn.Ping(ctx)
	cancel()
	if err == nil {
		t.Fatal("Ping succeeded while paused")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	fresh := connect(t, s)
	if err := fresh.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after Resume: %v", err)
	}
	// Stop must also work on a paused server (SIGTERM is only handled once
	// the process is continued).
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop of a paused server took %v", time.Since(begin))
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(context.Background(), Options{Dir: t.TempDir(), Binary: "/nonexistent/clickhouse-server"}); err == nil {
		t.Fatal("Start with a missing binary succeeded")
	}
	if _, err := Start(context.Background(), Options{Dir: t.TempDir(), Binary: "no-such-clickhouse-server"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("got %v, want ErrNotInstalled", err)
	}

	// A fixed port that is taken: the server exits and Start reports why.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{Dir: t.TempDir(), TCPPort: port})
	if err == nil || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("Start on a taken port: %v", err)
	}
}

// TestParentDeath checks that the server dies with the process that started
// it (Pdeathsig), even when that process exits without calling Stop.
func TestParentDeath(t *testing.T) {
	if dir := os.Getenv("CHSERVER_TEST_ORPHAN_DIR"); dir != "" {
		s, err := Start(context.Background(), Options{Dir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("addr:", s.Addr())
		os.Exit(0) // no Stop
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestParentDeath$")
	cmd.Env = append(os.Environ(), "CHSERVER_TEST_ORPHAN_DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var addr string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "addr: "); ok {
			addr = a
		}
	}
	if addr == "" {
		t.Fatalf("helper printed no address:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // the orphan is gone
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server on %s still running 5s after its parent exited", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// With a password, the server refuses connections without it.
func TestPassword(t *testing.T) {
	s, err := Start(context.Background(), Options{Dir: t.TempDir(), Password: "ch-pa55word"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"", false}, {"wrong", false}, {"ch-pa55word", true}} {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()},
			Auth: clickhouse.Auth{Database: "default", Username: "default", Password: tc.password}})
		if err != nil {
			t.Fatal(err)
		}
		err = conn.Ping(ctx)
		conn.Close()
		if (err == nil) != tc.ok {
			t.Errorf("password %q: ping %v, want ok=%v", tc.password, err, tc.ok)
		}
	}
	users, _ := os.ReadFile(s.dir + "/users.xml")
	if strings.Contains(string(users), "ch-pa55word") {
		t.Error("users.xml holds the password in clear")
	}
}

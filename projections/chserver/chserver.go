// Package chserver runs a real clickhouse-server as a child process of the
// current program, for `argus dev` and for tests.
//
// The server gets a small self-contained configuration written under
// Options.Dir (config.xml, users.xml, data/, tmp/, log/, …), listens on
// 127.0.0.1 only, and has a single user "default" without a password. The
// child is put in its own process group (so a terminal's Ctrl-C reaches only
// the parent, which should call Stop) and receives SIGKILL if the parent dies.
//
// It works with Debian's clickhouse-server 18.16 as well as current releases.
package chserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

const (
	// ReadyTimeout bounds how long Start and Restart wait for the server to
	// answer a native-protocol Ping.
	ReadyTimeout = 30 * time.Second
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout = 10 * time.Second

	pingInterval = 100 * time.Millisecond
	// startAttempts is how often Start retries with fresh ports when a port
	// it picked itself was taken by someone else before the server bound it.
	startAttempts = 3
)

// ErrNotInstalled is returned (wrapped) by Find and Start when no
// clickhouse-server binary can be found.
var ErrNotInstalled = errors.New("clickhouse-server is not installed")

// ErrNotRunning is returned by Pause and Resume when the server process is
// not running.
var ErrNotRunning = errors.New("chserver: clickhouse-server is not running")

// candidates are tried by Find after looking up "clickhouse-server" on PATH
// (/usr/sbin is often missing from an unprivileged user's PATH).
var candidates = []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse"}

// Options configures Start.
type Options struct {
	Dir      string // data dir; config, data, tmp, logs all go under it (created if missing)
	TCPPort  int    // native protocol port; 0 = pick a free port
	HTTPPort int    // 0 = pick a free port
	// Binary is the server executable. Default: "clickhouse-server" looked up
	// on PATH, then /usr/sbin/clickhouse-server, /usr/bin/clickhouse. A binary
	// named "clickhouse" is run as `clickhouse server`.
	Binary         string
	Stdout, Stderr io.Writer // optional; default discard (server logs go to files under Dir/log)
	// Password of the user "default" (empty: none). users.xml keeps only
	// its SHA-256.
	Password string
}

// Server is a clickhouse-server child process. Its methods are safe for
// concurrent use.
type Server struct {
	dir      string // absolute
	binary   string
	tcpPort  int
	httpPort int
	stdout   io.Writer
	stderr   io.Writer
	password string

	mu   sync.Mutex
	proc *process // the current (possibly exited) process; nil after Stop
}

// process is one run of the server binary.
type process struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{} // closed once the process has exited and been reaped
	err    error         // result of cmd.Wait, valid after done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Find returns the path of the clickhouse-server binary, or an error wrapping
// ErrNotInstalled.
func Find() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range candidates {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("chserver: %w (looked for clickhouse-server on PATH, %s); install it with `apt-get install -y clickhouse-server clickhouse-client`",
		ErrNotInstalled, strings.Join(candidates, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Start writes config.xml and users.xml under o.Dir, starts clickhouse-server
// and waits until a native-protocol Ping succeeds (at most ReadyTimeout, or
// until ctx is done). ctx only bounds the start-up: cancelling it later does
// not stop the server; call Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	} else if !strings.ContainsRune(bin, filepath.Separator) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return nil, fmt.Errorf("chserver: %w: %v", ErrNotInstalled, err)
		}
		bin = p
	}
	if o.Dir == "" {
		return nil, errors.New("chserver: Options.Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	for _, sub := range []string{"", "data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("chserver: %w", err)
		}
	}
	s := &Server{dir: dir, binary: bin, stdout: o.Stdout, stderr: o.Stderr, password: o.Password}

	for attempt := 1; ; attempt++ {
		s.tcpPort, s.httpPort, err = pickPorts(o.TCPPort, o.HTTPPort)
		if err != nil {
			return nil, err
		}
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		err = s.startLocked(ctx)
		s.mu.Unlock()
		if err == nil {
			return s, nil
		}
		// Retry with fresh ports only if a port picked here was taken
		// between picking it and the server binding it.
		raced := (o.TCPPort == 0 && addrInUse(err, s.tcpPort)) || (o.HTTPPort == 0 && addrInUse(err, s.httpPort))
		if !raced || attempt == startAttempts || ctx.Err() != nil {
			return nil, err
		}
	}
}

// Addr is the native-protocol address, "127.0.0.1:<tcpport>", for
// clickhouse.Options.Addr.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort)) }

// TCPPort is the native-protocol port.
func (s *Server) TCPPort() int { return s.tcpPort }

// HTTPPort is the HTTP interface port (for curl and the like; clickhouse-go's
// HTTP protocol does not work with 18.16).
func (s *Server) HTTPPort() int { return s.httpPort }

// Dir is the absolute data directory. Server logs are in Dir()/log.
func (s *Server) Dir() string { return s.dir }

// Stop sends SIGTERM, waits up to StopTimeout, then sends SIGKILL. It is
// idempotent, and returns nil if the server already exited (e.g. after Kill).
// It returns an error only if SIGKILL was needed.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Kill sends SIGKILL now and waits for the process to exit (chaos tests). The
// data directory stays as the crash left it; Restart starts on it again.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil || p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chserver: kill: %w", err)
	}
	<-p.done
	return nil
}

// Pause stops the process with SIGSTOP (chaos tests): connections stay open
// but nothing answers until Resume. It returns once the process is stopped.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP, true) }

// Resume continues a paused process with SIGCONT. It returns once the process
// runs again.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT, false) }

func (s *Server) signal(sig syscall.Signal, stopped bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil || p.exited() {
		return ErrNotRunning
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrNotRunning
		}
		return fmt.Errorf("chserver: %v: %w", sig, err)
	}
	// Signal delivery is asynchronous: without waiting, a request sent right
	// after Pause may still be answered.
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !p.exited(); time.Sleep(time.Millisecond) {
		data, err := os.ReadFile(stat)
		if err != nil {
			break // no procfs: best effort
		}
		// "pid (comm) state …"; comm may contain spaces and parentheses.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 || i+2 >= len(data) {
			break
		}
		if st := data[i+2]; (st == 'T') == stopped {
			return nil
		}
	}
	return nil
}

// Restart stops the server (if running) and starts it again on the same
// ports and data, waiting until it answers a Ping. Clients must reconnect:
// pooled connections to the old process are broken.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.stopLocked() // an error only means SIGKILL was needed; the process is gone
	return s.startLocked(ctx)
}

func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process only handles SIGTERM once continued
	t := time.NewTimer(StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("chserver: clickhouse-server did not exit within %v of SIGTERM; killed", StopTimeout)
}

// startLocked starts a new process on s's config and waits until it is ready.
// On failure the process is killed and s.proc is left nil.
func (s *Server) startLocked(ctx context.Context) error {
	if s.proc != nil && !s.proc.exited() {
		return errors.New("chserver: clickhouse-server is already running")
	}
	s.proc = nil
	p, err := s.spawn()
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p); err != nil {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		return err
	}
	s.proc = p
	return nil
}

// spawn starts the server binary. The child is started from a goroutine that
// stays locked to its OS thread until the child exits: Pdeathsig fires when
// the *thread* that forked the child exits, and an OS thread of a Go program
// may exit while the program keeps running.
func (s *Server) spawn() (*process, error) {
	args := []string{"--config-file=" + filepath.Join(s.dir, "config.xml")}
	if filepath.Base(s.binary) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	cmd := exec.Command(s.binary, args...)
	cmd.Dir = s.dir
	p := &process{cmd: cmd, stderr: &tailBuffer{max: 4 << 10}, done: make(chan struct{})}
	cmd.Stdout = s.stdout
	cmd.Stderr = p.stderr
	if s.stderr != nil {
		cmd.Stderr = io.MultiWriter(p.stderr, s.stderr)
	}
	cmd.WaitDelay = time.Second // don't hang on output pipes held by strays
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("chserver: start %s: %w", s.binary, err)
	}
	return p, nil
}

// addrInUse reports whether err says the server could not bind port.
func addrInUse(err error, port int) bool {
	return strings.Contains(err.Error(), "Address already in use: 127.0.0.1:"+strconv.Itoa(port))
}

// waitReady pings the server every pingInterval until it answers, the
// process exits, ReadyTimeout passes or ctx is done.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{s.Addr()},
		Auth:        clickhouse.Auth{Database: "default", Username: "default", Password: s.password},
		DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, // the handshake ignores Ping's ctx deadline
	})
	if err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	defer conn.Close()
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := conn.Ping(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("chserver: clickhouse-server exited before it was ready (%v)%s", p.err, s.diagnostics(p))
		case <-ctx.Done():
			return fmt.Errorf("chserver: clickhouse-server on %s not ready (%w); last ping: %v%s", s.Addr(), ctx.Err(), err, s.diagnostics(p))
		case <-tick.C:
		}
	}
}

// diagnostics returns the tails of the process's stderr and of the server's
// error log, for error messages.
func (s *Server) diagnostics(p *process) string {
	var b strings.Builder
	if out := strings.TrimSpace(p.stderr.String()); out != "" {
		fmt.Fprintf(&b, "\nstderr:\n%s", out)
	}
	errLog := filepath.Join(s.dir, "log", "clickhouse-server.err.log")
	if data, err := os.ReadFile(errLog); err == nil && len(data) > 0 {
		if len(data) > 4<<10 {
			data = data[len(data)-4<<10:]
		}
		fmt.Fprintf(&b, "\n%s (tail):\n%s", errLog, strings.TrimSpace(string(data)))
	}
	return b.String()
}

// pickPorts returns tcp and http, replacing each 0 by a distinct free port.
func pickPorts(tcp, http int) (int, int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	free := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("chserver: pick a free port: %w", err)
		}
		ls = append(ls, l) // held open until both are picked, so they differ
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	var err error
	if tcp == 0 {
		if tcp, err = free(); err != nil {
			return 0, 0, err
		}
	}
	if http == 0 {
		if http, err = free(); err != nil {
			return 0, 0, err
		}
	}
	return tcp, http, nil
}

// writeConfig writes config.xml and users.xml under s.dir. The configuration
// is kept minimal but complete for 18.16 (and accepted by current releases):
// no interserver port, no query/part logs, no ZooKeeper, UTC time zone.
func (s *Server) writeConfig() error {
	p := func(sub string) string { return xmlText(filepath.Join(s.dir, sub) + "/") }
	config := fmt.Sprintf(`<?xml version="1.0"?>
<!-- Written by github.com/argus-vms/argus/projections/chserver; rewritten on every Start. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]slog/clickhouse-server.log</log>
        <errorlog>%[1]slog/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>%[4]s</path>
    <tmp_path>%[5]s</tmp_path>
    <user_files_path>%[6]s</user_files_path>
    <format_schema_path>%[7]s</format_schema_path>
    <users_config>%[8]s</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
`, xmlText(s.dir+"/"), s.tcpPort, s.httpPort, p("data"), p("tmp"), p("user_files"), p("format_schemas"),
		xmlText(filepath.Join(s.dir, "users.xml")))
	password := "<password></password>"
	if s.password != "" {
		sum := sha256.Sum256([]byte(s.password))
		password = "<password_sha256_hex>" + hex.EncodeToString(sum[:]) + "</password_sha256_hex>"
	}
	users := `<?xml version="1.0"?>
<!-- Written by github.com/argus-vms/argus/projections/chserver; rewritten on every Start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>10000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <!-- A connection handler notices shutdown only every poll_interval
                 seconds (default 10): with idle client connections open,
                 SIGTERM would take ~10 s. -->
            <poll_interval>1</poll_interval>
        </default>
    </profiles>
    <users>
        <default>
            ` + password + `
            <networks>
                <ip>::/0</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o600); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	return nil
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// tailBuffer is an io.Writer keeping the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

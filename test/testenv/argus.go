package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-vms/argus/events/natsauth"
	"github.com/nats-io/nats.go"
)

// Secret is the cluster secret of every node the tests start.
const Secret = "test-secret-0123456789abcdef"

// NodeNATS are the options that connect to the embedded NATS of a node the
// tests started (credentials derived from Secret).
func NodeNATS() nats.Option {
	d := natsauth.Derived([]byte(Secret))
	return nats.UserInfo(d.User, d.Password)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/argus once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "argus-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "argus")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/argus")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Ports handed to child processes come from below the kernel's ephemeral
// range (32768–60999 on Linux): a port the kernel picked for "listen on :0"
// is just as likely to be picked next as the local end of some outgoing
// connection, which then makes the child's bind fail. Each port is handed
// out once per test process; a random start keeps parallel test processes
// apart.
const portLow, portHigh = 10000, 32000

var (
	portMu   sync.Mutex
	portNext = portLow + rand.IntN(portHigh-portLow)
	portUsed = map[int]bool{}
)

// freeFrom returns the first port from the rotating cursor for which free
// holds (tried by binding it), stepping by step.
func freeFrom(t testing.TB, step int, free func(p int) bool) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < (portHigh-portLow)/step; i++ {
		p := portNext - portNext%step
		portNext += step
		if portNext >= portHigh {
			portNext = portLow
		}
		if p < portLow || portUsed[p] || portUsed[p+step-1] {
			continue
		}
		if free(p) {
			for k := 0; k < step; k++ {
				portUsed[p+k] = true
			}
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return freeFrom(t, 1, func(p int) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
		return true
	})
}

// FreeUDPPair returns an even UDP port whose successor is free too (RTP and
// RTCP), both free a moment ago.
func FreeUDPPair(t testing.TB) int {
	t.Helper()
	return freeFrom(t, 2, func(p int) bool {
		r, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		c, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if r != nil {
			r.Close()
		}
		if c != nil {
			c.Close()
		}
		return err1 == nil && err2 == nil
	})
}

// Node is an `argus dev` process.
type Node struct {
	t        testing.TB
	ID       string // node id
	NATS     string // client URL of its embedded NATS (cluster nodes)
	Route    string // nats://host:port of its embedded NATS's cluster port (cluster nodes)
	Peer     string // host:port of its peer (actor) transport (cluster nodes)
	Data     string
	HTTP     string // base URL, http://127.0.0.1:port
	RTSP     string // relay address, 127.0.0.1:port
	AdminKey string
	Env      []string
	cmd      *exec.Cmd
	out      *SyncBuffer
	args     []string
	client   *http.Client
}

// NodeOptions for StartDev.
type NodeOptions struct {
	Data       string // reuse a data dir (restart); default a new temp dir
	ClickHouse string // ARGUS_CLICKHOUSE; "" = none (the node must still work without it)
	Env        []string
	Args       []string // extra flags, e.g. --probe-interval 1s
	// TLS, when set, serves the API over HTTPS with these certificates
	// (HTTP is then https://…, and Do trusts the CA).
	TLS *Certs
	// NATS puts the embedded NATS on a free port, recorded in Node.NATS
	// (for workers and other clients).
	NATS bool
}

// StartDev starts `argus dev` on free ports and waits for /readyz. The
// process is killed when the test ends. Its output is kept for Output().
func StartDev(t testing.TB, o NodeOptions) *Node {
	t.Helper()
	if o.Data == "" {
		o.Data = t.TempDir()
	}
	n := &Node{t: t, Data: o.Data, AdminKey: "test-admin-key-0123456789", out: &SyncBuffer{}, client: http.DefaultClient}
	httpPort := FreePort(t)
	n.HTTP = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if o.TLS != nil {
		n.HTTP = fmt.Sprintf("https://127.0.0.1:%d", httpPort)
		n.client = o.TLS.Client()
		o.Args = append([]string{"--tls-cert", o.TLS.Cert, "--tls-key", o.TLS.Key}, o.Args...)
	}
	n.RTSP = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	n.args = []string{"dev", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--nats-listen", "127.0.0.1:0", "--data", o.Data, "--node-id", "n1",
		"--rtsp", n.RTSP, "--rtsp-udp", fmt.Sprintf("127.0.0.1:%d", FreeUDPPair(t)),
		"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0",
		// Probes append status events that move versions; tests that want
		// them pass --probe-interval (a later flag wins).
		"--probe-interval", "0"}
	if o.NATS {
		p := FreePort(t)
		n.NATS = fmt.Sprintf("nats://127.0.0.1:%d", p)
		n.args = append(n.args, "--nats-listen", fmt.Sprintf("127.0.0.1:%d", p))
	}
	n.args = append(n.args, o.Args...)
	if o.ClickHouse == "" {
		o.ClickHouse = "none" // keep dev from starting a clickhouse-server of its own
	}
	n.Env = append(os.Environ(), "ARGUS_ADMIN_KEY="+n.AdminKey, "ARGUS_SECRET="+Secret, "ARGUS_CLICKHOUSE="+o.ClickHouse)
	n.Env = append(n.Env, o.Env...)
	n.start()
	return n
}

func (n *Node) start() {
	n.t.Helper()
	n.spawn()
	n.waitReady()
}

// spawn starts the process without waiting for it.
func (n *Node) spawn() {
	n.t.Helper()
	n.cmd = exec.Command(Binary(n.t), n.args...)
	n.cmd.Env = n.Env
	n.cmd.Stdout = n.out
	n.cmd.Stderr = n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	cmd := n.cmd
	n.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// waitReady waits up to a minute for /readyz to answer 200.
func (n *Node) waitReady() {
	n.t.Helper()
	cmd := n.cmd
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := n.http().Get(n.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("argus %s not ready; output:\n%s", n.args[0], n.Output())
}

// http is the node's HTTP client (trusting its CA when it serves HTTPS).
func (n *Node) http() *http.Client {
	if n.client == nil {
		return http.DefaultClient
	}
	return n.client
}

// Kill sends SIGKILL and waits for the process to end.
func (n *Node) Kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()
}

// Stop sends SIGTERM and waits.
func (n *Node) Stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	n.cmd.Wait()
}

// Restart starts the process again on the same data and port.
func (n *Node) Restart() { n.start() }

// Pid is the process id (for CPU and memory readings).
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Output is everything the process printed so far.
func (n *Node) Output() string { return n.out.String() }

// Do sends a request with the admin key (or key, when non-empty) and
// returns status, headers and body.
func (n *Node) Do(method, path, key string, body string, hdr ...string) (int, http.Header, []byte) {
	n.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.HTTP+path, r)
	if err != nil {
		n.t.Fatal(err)
	}
	if key == "" {
		key = n.AdminKey
	}
	if key != "-" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := n.http().Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if CheckExchange != nil { // check.go
		CheckExchange(n.t, resp.Request, []byte(body), resp.StatusCode, resp.Header, b)
	}
	return resp.StatusCode, resp.Header, b
}

// SyncBuffer is an io.Writer whose contents can be read while others write
// (a child process's output, a log sink under test).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

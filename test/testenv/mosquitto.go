package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MosquittoOptions configure a broker. With a User the broker refuses
// anonymous clients and knows that one user (a password is made up when
// none is given); without, it admits anyone. With TLS it speaks MQTT over
// TLS only (mqtts://), presenting TLS.Cert.
type MosquittoOptions struct {
	User, Password string
	TLS            *Certs
}

// Broker is a real Debian mosquitto listening on a free loopback port.
type Broker struct {
	URL            string // mqtt://127.0.0.1:<port> (mqtts:// with TLS)
	Host           string // 127.0.0.1, for mosquitto_sub -h
	Port           int    // for mosquitto_sub -p
	User, Password string // "" when anonymous

	t    testing.TB
	conf string
	out  *SyncBuffer
	cmd  *exec.Cmd
	done chan struct{}
}

// mosquittoBinary is where Debian installs the broker (it is not on a
// non-root PATH).
func mosquittoBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	t.Fatal("mosquitto is required by this test and is not installed\n" +
		"`make test` installs it (Debian: apt-get install -y mosquitto mosquitto-clients)")
	return ""
}

// Mosquitto starts a broker for one test (its config, password file and
// persistence in t.TempDir()) and stops it at t.Cleanup.
func Mosquitto(t testing.TB, o MosquittoOptions) *Broker {
	t.Helper()
	bin := mosquittoBinary(t)
	dir := t.TempDir()
	b := &Broker{Host: "127.0.0.1", Port: FreePort(t), User: o.User, Password: o.Password, t: t,
		conf: filepath.Join(dir, "mosquitto.conf"), out: &SyncBuffer{}}
	b.URL = fmt.Sprintf("mqtt://%s:%d", b.Host, b.Port)

	var c strings.Builder
	fmt.Fprintf(&c, "listener %d %s\n", b.Port, b.Host)
	if o.TLS != nil {
		b.URL = fmt.Sprintf("mqtts://%s:%d", b.Host, b.Port)
		fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n", o.TLS.CA, o.TLS.Cert, o.TLS.Key)
	}
	if b.User != "" {
		if b.Password == "" {
			p := make([]byte, 12)
			rand.Read(p)
			b.Password = hex.EncodeToString(p)
		}
		pw := filepath.Join(dir, "passwd")
		if out, err := exec.Command("mosquitto_passwd", "-b", "-c", pw, b.User, b.Password).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
		fmt.Fprintf(&c, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		c.WriteString("allow_anonymous true\n")
	}
	// Persistence keeps sessions and retained messages over Stop/Start.
	fmt.Fprintf(&c, "persistence true\npersistence_location %s/\n", dir)
	c.WriteString("log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
	// As root, mosquitto would switch to user mosquitto, who cannot read
	// the test's temp dir; as anyone else the option is ignored.
	if u, err := user.Current(); err == nil {
		fmt.Fprintf(&c, "user %s\n", u.Username)
	}
	if err := os.WriteFile(b.conf, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start(bin)
	t.Cleanup(b.Stop)
	return b
}

// Start starts a stopped broker again on the same port and persistence.
func (b *Broker) Start() {
	b.t.Helper()
	if b.cmd != nil {
		return
	}
	b.start(mosquittoBinary(b.t))
}

// Stop ends the broker (SIGTERM: it saves its persistence) and waits.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Output is what the broker logged.
func (b *Broker) Output() string { return b.out.String() }

// start spawns the broker from a goroutine locked to its OS thread until
// the child exits (Pdeathsig fires when the forking thread ends) and waits
// for its port.
func (b *Broker) start(bin string) {
	b.t.Helper()
	cmd := exec.Command(bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.out, b.out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	done, started := make(chan struct{}), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd, b.done = cmd, done
	addr := net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b.cmd = nil
			b.t.Fatalf("mosquitto exited before listening on %s:\n%s", addr, b.Output())
		default:
		}
		if time.Now().After(deadline) {
			b.Stop()
			b.t.Fatalf("mosquitto not listening on %s: %v\n%s", addr, err, b.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

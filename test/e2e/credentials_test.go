package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// rtspListener is a camera endpoint that asks for Basic credentials and
// keeps every request line and Authorization header it is sent.
type rtspListener struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newRTSPListener(t *testing.T) *rtspListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &rtspListener{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.serve(c)
		}
	}()
	return l
}

func (l *rtspListener) serve(c net.Conn) {
	defer c.Close()
	r := textproto.NewReader(bufio.NewReader(c))
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		hdr, err := r.ReadMIMEHeader()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.seen = append(l.seen, line, hdr.Get("Authorization"))
		l.mu.Unlock()
		status := "401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\""
		if hdr.Get("Authorization") != "" {
			status = "404 Not Found"
		}
		fmt.Fprintf(c, "RTSP/1.0 %s\r\nCSeq: %s\r\n\r\n", status, hdr.Get("Cseq"))
	}
}

func (l *rtspListener) url(path string) string { return "rtsp://" + l.ln.Addr().String() + path }

// received: everything sent to the listener so far, one string.
func (l *rtspListener) received() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, "\n")
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func waitReceived(t *testing.T, l *rtspListener, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.received(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the camera never received %q; it got:\n%s", want, l.received())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A camera's password goes to that camera only: moving the device's URL
// to another host or port without new credentials is refused, and the new
// endpoint never receives the old password.
func TestPasswordNeverFollowsAURLChange(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--probe-interval", "500ms"}})
	cam, other := newRTSPListener(t), newRTSPListener(t)
	const old, fresh = "old-pa55word", "new-pa55word"

	st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"cam","name":"c","url":"`+cam.url("/s")+`","username":"admin","password":"`+old+`"}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	waitReceived(t, cam, basic("admin", old)) // probes carry it to its camera

	st, hdr, body := n.Do("PATCH", "/v1/devices/cam", "", `{"url":"`+other.url("/s")+`"}`)
	expectProblem(t, "url to another port without credentials", st, hdr, body, 400, "password")
	time.Sleep(1500 * time.Millisecond) // three probe intervals
	if got := other.received(); got != "" {
		t.Fatalf("the new endpoint was contacted before the change was accepted:\n%s", got)
	}

	// With credentials of its own the change is accepted; only they travel.
	if st, _, body := n.Do("PATCH", "/v1/devices/cam", "", `{"url":"`+other.url("/s")+`","password":"`+fresh+`"}`); st != 200 {
		t.Fatalf("url + password: %d %s", st, body)
	}
	waitReceived(t, other, basic("admin", fresh))
	if strings.Contains(other.received(), basic("admin", old)) {
		t.Fatal("the old password reached the new endpoint")
	}
	// Same host and port, another path: the stored password stays valid.
	if st, _, body := n.Do("PATCH", "/v1/devices/cam", "", `{"url":"`+other.url("/sub")+`"}`); st != 200 {
		t.Fatalf("path change: %d %s", st, body)
	}
}

// Credentials a camera wants in the URL's query are split off like
// userinfo: the stored URL holds placeholders, the camera gets the values.
func TestQueryCredentialsAreSealed(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--probe-interval", "500ms"}})
	cam := newRTSPListener(t)
	const pass = "qu3ry-secret"
	st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"q","name":"q","url":"`+cam.url("/live?channel=1&user=admin&password="+pass)+`"}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	d := decode[deviceJSON](t, body)
	if strings.Contains(string(body), pass) || !strings.Contains(d.URL, "password={password}") || d.Username != "admin" {
		t.Fatalf("stored device %s", body)
	}
	waitReceived(t, cam, "password="+pass) // the request to the camera has it back
	for _, path := range []string{"/v1/devices/q", "/v1/devices/q/events", "/v1/events"} {
		if _, _, body := n.Do("GET", path, "", ""); strings.Contains(string(body), pass) {
			t.Errorf("%s shows the password: %s", path, body)
		}
	}
	if strings.Contains(n.Output(), pass) {
		t.Error("the node logged the password")
	}
}

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
)

// lines collects a process's output lines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }

// wait waits for a line containing every part.
func (l *lines) wait(t *testing.T, what string, d time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, s := range l.all {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(s, p)
			}
			if ok {
				l.mu.Unlock()
				return s
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("%s: no line with %q within %v; got %d lines: %s", what, parts, d, len(l.all), strings.Join(l.all, "\n"))
	return ""
}

// mosquittoSub runs a real mosquitto_sub on topic, printing "topic payload".
func mosquittoSub(t *testing.T, b *testenv.Broker, topic string, extra ...string) *lines {
	t.Helper()
	args := append([]string{"-h", b.Host, "-p", fmt.Sprint(b.Port), "-u", b.User, "-P", b.Password, "-t", topic, "-v", "-q", "1"}, extra...)
	cmd := exec.Command("mosquitto_sub", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l := &lines{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.add(sc.Text())
		}
	}()
	return l
}

// TestBusOutputs: alarms and device status reach a real MQTT broker
// (Debian mosquitto, read with mosquitto_sub) at QoS 1, the status
// retained, and NATS subscribers on argus.out.<type>.<device>; an alarm
// raised while the broker is down arrives once it is back.
func TestBusOutputs(t *testing.T) {
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{User: "argus", Password: "mq-pass"})
	cam := startCam(t, fakecam.Options{Paths: []string{"o1"}})
	natsPort := testenv.FreePort(t)
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--mqtt-url", b.URL, "--mqtt-user", b.User, "--mqtt-password", b.Password,
		"--nats-out", "alarm.*,device.*", "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--probe-interval", "1s"}})
	if strings.Contains(n.Output(), "mq-pass") {
		t.Fatal("the MQTT password is in the node's log")
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), testenv.NodeNATS())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	busMsgs := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("argus.out.>", busMsgs); err != nil {
		t.Fatal(err)
	}
	sub := mosquittoSub(t, b, "argus/#")
	time.Sleep(300 * time.Millisecond) // mosquitto_sub subscribed

	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"bus-1","name":"d","url":"rtsp://`+cam.Addr()+`/o1"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	sub.wait(t, "retained status", 10*time.Second, "argus/devices/bus-1/status", `"status":"online"`)
	if st, _, body := n.Do("POST", "/v1/alarms", "", `{"device":"bus-1","type":"door","message":"forced"}`); st != 201 {
		t.Fatalf("raise: %d %s", st, body)
	}
	line := sub.wait(t, "alarm topic", 5*time.Second, "argus/alarms/bus-1 ", `"type":"alarm.raised"`)
	var nt struct {
		ID, Type, Device string
		Data             map[string]any
	}
	if err := json.Unmarshal([]byte(strings.SplitN(line, " ", 2)[1]), &nt); err != nil || nt.ID == "" || nt.Device != "bus-1" || nt.Data["message"] != "forced" {
		t.Fatalf("alarm payload: %s (%v)", line, err)
	}
	sub.wait(t, "events topic", 5*time.Second, "argus/events/alarm.raised ", nt.ID)
	deadline := time.After(5 * time.Second)
	for seen := false; !seen; {
		select {
		case m := <-busMsgs:
			seen = m.Subject == "argus.out.alarm.raised.bus-1" && strings.Contains(string(m.Data), nt.ID)
		case <-deadline:
			t.Fatalf("no alarm on argus.out.alarm.raised.bus-1\n%s", n.Output())
		}
	}
	// A late subscriber gets the retained status.
	late := mosquittoSub(t, b, "argus/devices/bus-1/status", "-C", "1")
	late.wait(t, "late subscriber's retained status", 5*time.Second, `"status":"online"`)

	// The broker goes down; an alarm raised meanwhile arrives after it is back.
	b.Stop()
	if st, _, body := n.Do("POST", "/v1/alarms", "", `{"device":"bus-1","type":"glass"}`); st != 201 {
		t.Fatalf("raise while the broker is down: %d %s", st, body)
	}
	time.Sleep(time.Second)
	b.Start()
	again := mosquittoSub(t, b, "argus/alarms/#")
	again.wait(t, "alarm raised while the broker was down", 20*time.Second, "argus/alarms/bus-1 ", `"type":"glass"`)
}

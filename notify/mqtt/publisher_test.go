package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// mosquittoSub runs a real mosquitto_sub on argus/# at QoS 1 against b to
// its end and returns the lines it printed. A subscriber that must exist
// before a publish is a persistent session (-c -i id) set up with -E (exit
// once subscribed); the broker queues its messages until it comes back.
func mosquittoSub(t *testing.T, b *testenv.Broker, args ...string) []string {
	t.Helper()
	all := []string{"-h", b.Host, "-p", strconv.Itoa(b.Port), "-t", "argus/#", "-q", "1", "-W", "10"}
	if b.User != "" {
		all = append(all, "-u", b.User, "-P", b.Password)
	}
	cmd := exec.Command("mosquitto_sub", append(all, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mosquitto_sub %s (make deps installs mosquitto-clients): %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func dial(t *testing.T, b *testenv.Broker, id string) *Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Dial(ctx, Options{URL: b.URL, Username: b.User, Password: b.Password, ClientID: id})
	if err != nil {
		t.Fatalf("dial: %v\nbroker:\n%s", err, b.Output())
	}
	t.Cleanup(p.Close)
	return p
}

func publish(t *testing.T, p *Publisher, topic, payload string, retained bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, topic, []byte(payload), retained); err != nil {
		t.Fatal(err)
	}
}

func TestPublishQoS1ToRealSubscriber(t *testing.T) {
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{User: "argus"})
	p := dial(t, b, "argus-n1")
	mosquittoSub(t, b, "-c", "-i", "sub-1", "-E")
	publish(t, p, AlarmTopic("cam-1"), `{"type":"alarm.raised"}`, false)
	publish(t, p, EventTopic("device.offline"), `{"type":"device.offline"}`, false)
	got := mosquittoSub(t, b, "-c", "-i", "sub-1", "-C", "2", "-v")
	want := []string{`argus/alarms/cam-1 {"type":"alarm.raised"}`, `argus/events/device.offline {"type":"device.offline"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("subscriber got %q, want %q", got, want)
	}
	if err := p.Publish(context.Background(), "argus/#", nil, false); err == nil {
		t.Fatal("published to a wildcard topic")
	}
}

func TestRetainedStatusReachesLateSubscriber(t *testing.T) {
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{}) // anonymous
	p := dial(t, b, "argus-n1")
	publish(t, p, StatusTopic("cam-1"), "offline", true)
	publish(t, p, StatusTopic("cam-1"), "online", true) // the broker keeps the last
	if got := mosquittoSub(t, b, "-C", "1", "-F", "%r %t %p"); len(got) != 1 || got[0] != "1 argus/devices/cam-1/status online" {
		t.Fatalf("late subscriber got %q", got)
	}
}

func TestDialRefusals(t *testing.T) {
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{User: "argus", Password: "right"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, Options{URL: b.URL, Username: "argus", Password: "wrong", ClientID: "argus-n1"})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("wrong password: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a refusal took %s: it must not be retried", d)
	}
	if _, err := Dial(ctx, Options{URL: b.URL, ClientID: "argus-n1"}); err == nil {
		t.Fatal("anonymous client accepted")
	}
	if _, err := Dial(ctx, Options{URL: b.URL, Username: "argus", Password: "right"}); err == nil {
		t.Fatal("no client id accepted")
	}
	// Nothing listening: Dial retries until ctx ends.
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	_, err = Dial(short, Options{URL: "mqtt://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), ClientID: "argus-n1"})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("no broker: %v", err)
	}
}

func TestPublishSurvivesBrokerRestart(t *testing.T) {
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{User: "argus"})
	p := dial(t, b, "argus-n1")
	publish(t, p, StatusTopic("cam-1"), "online", true)

	b.Stop()
	// Published while the broker is down: paho keeps it and sends it once
	// reconnected; Publish returns at the PUBACK.
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- p.Publish(ctx, StatusTopic("cam-1"), []byte("offline"), true)
	}()
	time.Sleep(300 * time.Millisecond)
	b.Start()
	if err := <-done; err != nil {
		t.Fatalf("publish across the restart: %v\nbroker:\n%s", err, b.Output())
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("reconnect took %s", d)
	}
	t.Logf("published across a broker restart in %s", time.Since(start).Round(time.Millisecond))
	publish(t, p, AlarmTopic("cam-1"), "after", false)
	if got := mosquittoSub(t, b, "-C", "1", "-F", "%t %p"); len(got) != 1 || got[0] != "argus/devices/cam-1/status offline" {
		t.Fatalf("retained after restart: %q", got)
	}
}

func TestDialTLS(t *testing.T) {
	certs := testenv.NewCerts(t)
	b := testenv.Mosquitto(t, testenv.MosquittoOptions{User: "argus", TLS: &certs})
	ca, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Dial(ctx, Options{URL: b.URL, Username: b.User, Password: b.Password, ClientID: "argus-n1",
		TLS: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatalf("dial %s: %v\nbroker:\n%s", b.URL, err, b.Output())
	}
	defer p.Close()
	publish(t, p, StatusTopic("cam-1"), "online", true)

	// System roots do not know the test CA: refused at once, not retried.
	start := time.Now()
	if _, err := Dial(ctx, Options{URL: b.URL, Username: b.User, Password: b.Password, ClientID: "argus-n2"}); err == nil ||
		time.Since(start) > 3*time.Second {
		t.Fatalf("untrusted broker certificate: %v after %s", err, time.Since(start))
	}
}

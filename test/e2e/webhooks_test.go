package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// receiverDir holds the webhook endpoint that verifies signatures with the
// Standard Webhooks library (npm standardwebhooks).
var receiverDir = filepath.Join("testdata", "webhook-receiver")

// received is one delivery the receiver verified (or refused).
type received struct {
	ID       string `json:"id"` // webhook-id
	Verified bool   `json:"verified"`
	Status   int    `json:"status"`
	Type     string `json:"type"`
	Device   string `json:"device"`
	Seq      uint64 `json:"seq"`
	Event    string `json:"event"`
}

// receiver is the Node webhook endpoint, restartable on its port.
type receiver struct {
	t      *testing.T
	port   int
	secret string
	mu     sync.Mutex
	got    []received
	cmd    *exec.Cmd
}

func startReceiver(t *testing.T, secret string) *receiver {
	testenv.NeedNode(t, "the webhook receiver")
	testenv.NPMCI(t, receiverDir, "standardwebhooks")
	r := &receiver{t: t, port: testenv.FreePort(t), secret: secret}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) start() {
	r.t.Helper()
	cmd := exec.Command("node", "receiver.mjs", fmt.Sprint(r.port), r.secret)
	cmd.Dir = receiverDir
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), `{"listening"`) {
				close(listening)
				continue
			}
			var d received
			if json.Unmarshal(sc.Bytes(), &d) == nil {
				r.mu.Lock()
				r.got = append(r.got, d)
				r.mu.Unlock()
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		r.t.Fatal("the webhook receiver did not start")
	}
	r.cmd = cmd
}

func (r *receiver) stop() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *receiver) url() string { return fmt.Sprintf("http://127.0.0.1:%d/hook", r.port) }

// answer makes the receiver answer status from now on.
func (r *receiver) answer(status int) {
	r.t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/mode", r.port), "application/json", strings.NewReader(fmt.Sprintf(`{"status":%d}`, status)))
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
}

func (r *receiver) deliveries() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitIDs waits until every id has been delivered and verified (answered 2xx).
func (r *receiver) waitIDs(ids []string, d time.Duration) []received {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := r.deliveries()
		ok := map[string]bool{}
		for _, g := range got {
			if g.Verified && g.Status < 300 {
				ok[g.ID] = true
			}
		}
		missing := 0
		for _, id := range ids {
			if !ok[id] {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d deliveries missing after %v (%d received)", missing, len(ids), d, len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// raiseAlarms raises n API alarms on device (each its own slot, so each is
// an alarm.raised event) and returns their event ids from the log.
func raiseAlarms(t *testing.T, n *testenv.Node, device string, from, count int) {
	t.Helper()
	for i := from; i < from+count; i++ {
		if st, _, body := n.Do("POST", "/v1/alarms", "", fmt.Sprintf(`{"device":%q,"type":"t%d"}`, device, i)); st != 201 {
			t.Fatalf("raise %d on %s: %d %s", i, device, st, body)
		}
	}
}

// alarmEventIDs are the ids of the alarm.raised events of the log.
func alarmEventIDs(t *testing.T, n *testenv.Node) (ids []string, firstSeq uint64) {
	t.Helper()
	st, _, body := n.Do("GET", "/v1/events?type=alarm.raised&limit=1000", "", "")
	if st != 200 {
		t.Fatalf("events: %d %s", st, body)
	}
	page := decode[struct {
		Items []struct {
			Seq uint64 `json:"seq"`
			ID  string `json:"id"`
		} `json:"items"`
	}](t, body)
	for i, e := range page.Items {
		if i == 0 {
			firstSeq = e.Seq
		}
		ids = append(ids, e.ID)
	}
	return ids, firstSeq
}

// checkOrder: per device, the first deliveries of events come in log order.
func checkOrder(t *testing.T, got []received) {
	t.Helper()
	last := map[string]uint64{}
	seen := map[string]bool{}
	for _, g := range got {
		if !g.Verified || seen[g.ID] {
			continue // duplicates (redeliveries) may come later
		}
		seen[g.ID] = true
		if g.Seq < last[g.Device] {
			t.Errorf("device %s: event %d delivered after %d", g.Device, g.Seq, last[g.Device])
		}
		last[g.Device] = g.Seq
		if g.ID != g.Event {
			t.Errorf("webhook-id %s is not the event id %s", g.ID, g.Event)
		}
	}
}

// TestWebhookDelivery: alarms reach a webhook signed (verified by the
// Standard Webhooks library), in order per device; with the receiver down
// and the node killed meanwhile, every alarm arrives once both are back
// (duplicates share their webhook-id); replay from a sequence delivers
// again; 410 disables the webhook; bad bodies are 400 naming the field.
func TestWebhookDelivery(t *testing.T) {
	key := make([]byte, 24)
	for i := range key {
		key[i] = byte(i * 7)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	rcv := startReceiver(t, secret)
	cam := startCam(t, fakecam.Options{Paths: []string{"w1"}})
	data := t.TempDir()
	opts := testenv.NodeOptions{Data: data, Args: []string{"--webhook-allow-private", "--webhook-retry-max", "1s"}}
	n := testenv.StartDev(t, opts)
	for _, d := range []string{"wh-a", "wh-b"} {
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"d","url":"rtsp://%s/w1"}`, d, cam.Addr())); st != 201 {
			t.Fatalf("create %s: %d %s", d, st, body)
		}
	}
	for _, c := range []struct{ body, field string }{
		{`{"url":"` + rcv.url() + `"}`, "events"},
		{`{"events":["alarm.*"]}`, "url"},
		{`{"url":"ftp://x/","events":["alarm.*"]}`, "url"},
		{`{"url":"` + rcv.url() + `","events":["alarm.**"]}`, "events"},
		{`{"url":"` + rcv.url() + `","events":["alarm.*"],"secret":"nope"}`, "secret"},
		{`{"url":"` + rcv.url() + `","events":["alarm.*"],"colour":1}`, "colour"},
	} {
		st, hdr, body := n.Do("POST", "/v1/webhooks", "", c.body)
		expectProblem(t, "create webhook "+c.body, st, hdr, body, 400, c.field)
	}
	st, _, body := n.Do("POST", "/v1/webhooks", "", fmt.Sprintf(`{"id":"hook-1","url":%q,"events":["alarm.*","device.offline"],"secret":%q}`, rcv.url(), secret))
	if st != 201 || !strings.Contains(string(body), `"secret":"`+secret+`"`) {
		t.Fatalf("create webhook: %d %s", st, body)
	}
	if st, _, body := n.Do("GET", "/v1/webhooks/hook-1", "", ""); st != 200 || strings.Contains(string(body), "whsec_") {
		t.Fatalf("get webhook (the secret is shown once): %d %s", st, body)
	}

	raiseAlarms(t, n, "wh-a", 0, 5)
	raiseAlarms(t, n, "wh-b", 0, 5)
	ids, _ := alarmEventIDs(t, n)
	got := rcv.waitIDs(ids, 10*time.Second)
	checkOrder(t, got)

	// The receiver goes down; alarms keep coming; the node is killed and
	// restarted while the receiver is down; then the receiver is back.
	rcv.stop()
	raiseAlarms(t, n, "wh-a", 5, 5)
	raiseAlarms(t, n, "wh-b", 5, 5)
	time.Sleep(2 * time.Second)
	n.Kill()
	n = testenv.StartDev(t, opts)
	raiseAlarms(t, n, "wh-a", 10, 3)
	time.Sleep(3 * time.Second)
	rcv.start()
	ids, firstSeq := alarmEventIDs(t, n)
	if len(ids) != 23 {
		t.Fatalf("%d alarm.raised events in the log, want 23", len(ids))
	}
	got = rcv.waitIDs(ids, 20*time.Second)
	checkOrder(t, got)
	for _, g := range got {
		if !g.Verified {
			t.Errorf("a delivery failed the signature check: %+v", g)
		}
	}

	// Replay from the first alarm: everything again, same webhook-ids.
	before := len(rcv.deliveries())
	if st, _, body := n.Do("POST", "/v1/webhooks/hook-1/replay", "", fmt.Sprintf(`{"from_seq":%d}`, firstSeq)); st != 202 {
		t.Fatalf("replay: %d %s", st, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		again := map[string]bool{}
		for _, g := range rcv.deliveries()[before:] {
			again[g.ID] = true
		}
		all := true
		for _, id := range ids {
			all = all && again[id]
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay delivered %d of %d again", len(again), len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, hdr, body := n.Do("POST", "/v1/webhooks/hook-1/replay", "", `{}`)
	expectProblem(t, "replay without a start", st, hdr, body, 400, "from_seq")

	st, _, body = n.Do("GET", "/v1/webhooks/hook-1/deliveries?limit=5", "", "")
	if st != 200 || !strings.Contains(string(body), `"outcome":"delivered"`) {
		t.Fatalf("deliveries: %d %s", st, body)
	}

	// 410 disables the webhook.
	rcv.answer(410)
	raiseAlarms(t, n, "wh-b", 20, 1)
	deadline = time.Now().Add(10 * time.Second)
	for {
		st, _, body = n.Do("GET", "/v1/webhooks/hook-1", "", "")
		if st == 200 && strings.Contains(string(body), `"enabled":false`) && strings.Contains(string(body), "410") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a 410: %d %s", st, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _, body := n.Do("DELETE", "/v1/webhooks/hook-1", "", ""); st != 204 {
		t.Fatalf("delete: %d %s", st, body)
	}
	if st, _, _ := n.Do("GET", "/v1/webhooks/hook-1", "", ""); st != 404 {
		t.Fatalf("deleted webhook: %d", st)
	}
}

// TestWebhookPrivateTargetRefused: without --webhook-allow-private a
// webhook may not target loopback or private addresses.
func TestWebhookPrivateTargetRefused(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://localhost/x"} {
		st, hdr, body := n.Do("POST", "/v1/webhooks", "", fmt.Sprintf(`{"url":%q,"events":["*"]}`, u))
		expectProblem(t, "webhook to "+u, st, hdr, body, 400, "url")
	}
}

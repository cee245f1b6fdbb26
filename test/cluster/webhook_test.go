package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookReceiver verifies deliveries with the Standard Webhooks library and
// answers 204, or 503 while down.
type hookReceiver struct {
	wh   *standardwebhooks.Webhook
	down atomic.Bool
	mu   sync.Mutex
	got  []struct{ id, device string } // verified and accepted, in arrival order
	bad  int
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var n struct{ ID, Device string }
	json.Unmarshal(body, &n)
	r.mu.Lock()
	r.got = append(r.got, struct{ id, device string }{req.Header.Get("webhook-id"), n.Device})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestWebhookSurvivesReceiverOutageAndNodeKill: with the receiver down for
// 30 s and the node delivering the webhook killed -9 meanwhile, every alarm
// raised before, during and after reaches the receiver once it is back,
// signed, in order per device (duplicates share their webhook-id).
func TestWebhookSurvivesReceiverOutageAndNodeKill(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &hookReceiver{wh: wh}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rcv}
	go srv.Serve(ln)
	defer srv.Close()

	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{Args: []string{"--webhook-allow-private", "--webhook-retry-max", "2s", "--alarm-offline-after", "0"}})
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Log(tail(n))
			}
		}
	}()
	n0 := c.Nodes[0]
	for d := range 4 {
		if st, _, b := n0.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"wk-%d","name":"d","url":"rtsp://127.0.0.1:9/x"}`, d)); st != 201 {
			t.Fatalf("device: %d %s", st, b)
		}
	}
	st, _, body := n0.Do("POST", "/v1/webhooks", "", fmt.Sprintf(`{"id":"hook-k","url":"http://%s/hook","events":["alarm.raised"],"secret":%q}`, ln.Addr(), secret))
	if st != 201 {
		t.Fatalf("webhook: %d %s", st, body)
	}
	var hook struct{ Node string }
	json.Unmarshal(body, &hook)

	raised := 0
	raise := func(via *testenv.Node, count int) {
		t.Helper()
		for range count {
			body := fmt.Sprintf(`{"device":"wk-%d","type":"t%d"}`, raised%4, raised)
			deadline := time.Now().Add(20 * time.Second)
			for {
				st, _, b := via.Do("POST", "/v1/alarms", "", body)
				if st == 201 {
					break
				}
				if st != 503 || time.Now().After(deadline) {
					t.Fatalf("raise %s: %d %s", body, st, b)
				}
				time.Sleep(200 * time.Millisecond)
			}
			raised++
		}
	}
	raise(n0, 8)
	testenv.WaitFor(t, 10*time.Second, "the first alarms delivered", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.got) >= 8 })

	rcv.down.Store(true)
	downAt := time.Now()
	raise(n0, 8)
	time.Sleep(3 * time.Second)
	victim := c.Node(hook.Node)
	var other *testenv.Node
	for _, n := range c.Nodes {
		if n.ID != hook.Node {
			other = n
		}
	}
	victim.Kill()
	raise(other, 8)
	time.Sleep(time.Until(downAt.Add(30 * time.Second)))
	rcv.down.Store(false)

	// Every alarm.raised in the log arrives.
	st, _, body = other.Do("GET", "/v1/events?type=alarm.raised&limit=1000", "", "")
	if st != 200 {
		t.Fatalf("events: %d %s", st, body)
	}
	var evs struct {
		Items []struct {
			ID        string `json:"id"`
			Seq       uint64 `json:"seq"`
			Aggregate string `json:"aggregate"`
		} `json:"items"`
	}
	json.Unmarshal(body, &evs)
	if len(evs.Items) != raised {
		t.Fatalf("%d alarm.raised events, %d raised", len(evs.Items), raised)
	}
	testenv.WaitFor(t, 30*time.Second, "every alarm delivered", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		seen := map[string]bool{}
		for _, g := range rcv.got {
			seen[g.id] = true
		}
		for _, e := range evs.Items {
			if !seen[e.ID] {
				return false
			}
		}
		return true
	})
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.bad > 0 {
		t.Errorf("%d deliveries failed the signature check", rcv.bad)
	}
	// Order per device: first arrivals follow the log.
	seqOf := map[string]uint64{}
	for _, e := range evs.Items {
		seqOf[e.ID] = e.Seq
	}
	last, first := map[string]uint64{}, map[string]bool{}
	dups := 0
	for _, g := range rcv.got {
		if first[g.id] {
			dups++
			continue
		}
		first[g.id] = true
		if s := seqOf[g.id]; s < last[g.device] {
			t.Errorf("device %s: event %d arrived after %d", g.device, s, last[g.device])
		} else {
			last[g.device] = s
		}
	}
	t.Logf("%d alarms, %d deliveries (%d duplicates after the kill), receiver down %v", raised, len(rcv.got), dups, 30*time.Second)
}

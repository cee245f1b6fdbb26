package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// arrivals records when notifications of each type arrived.
type arrivals struct {
	mu   sync.Mutex
	when []time.Time
	kick chan struct{}
}

func newArrivals() *arrivals { return &arrivals{kick: make(chan struct{}, 1000)} }

func (a *arrivals) add() {
	a.mu.Lock()
	a.when = append(a.when, time.Now())
	a.mu.Unlock()
	a.kick <- struct{}{}
}

// next waits for the next arrival after n and returns its time.
func (a *arrivals) next(b *testing.B, what string, n int) time.Time {
	deadline := time.After(10 * time.Second)
	for {
		a.mu.Lock()
		if len(a.when) > n {
			t := a.when[n]
			a.mu.Unlock()
			return t
		}
		a.mu.Unlock()
		select {
		case <-a.kick:
		case <-deadline:
			b.Fatalf("%s: arrival %d did not come", what, n+1)
		}
	}
}

func (a *arrivals) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.when) }

// receiver is an HTTP endpoint answering 204 after delay, counting the
// alarm notifications (raised or repeated) per webhook path.
func receiver(b *testing.B, delay time.Duration, paths ...string) (string, map[string]*arrivals) {
	got := map[string]*arrivals{}
	for _, p := range paths {
		got[p] = newArrivals()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(delay)
		var n struct{ Type string }
		json.Unmarshal(body, &n)
		if a := got[r.URL.Path]; a != nil && (n.Type == "alarm.raised" || n.Type == "alarm.repeated") {
			a.add()
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), got
}

// BenchmarkAlarmDelivery (issue 16):
//   - an ONVIF camera's motion event → the alarm received by a webhook and
//     by an MQTT subscriber (Debian mosquitto), p50/p99, next to the same
//     event's device.camera_event fact reaching a NATS subscriber of the log;
//   - webhook delivery throughput to one slow endpoint (100 ms answers) with
//     concurrency 4 and 16, next to concurrency 1.
func BenchmarkAlarmDelivery(b *testing.B) {
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"ch1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cam.Close)
	srv, err := onvifsrv.Start(context.Background(), onvifsrv.Options{Username: "admin", Password: "pw",
		Profiles: []onvifsrv.Profile{{Token: "p1", StreamURI: cam.StreamURI("ch1")}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	broker := testenv.Mosquitto(b, testenv.MosquittoOptions{User: "argus", Password: "bench"})
	natsPort := testenv.FreePort(b)
	n := testenv.StartDev(b, testenv.NodeOptions{Args: []string{"--webhook-allow-private", "--mqtt-url", broker.URL,
		"--mqtt-user", broker.User, "--mqtt-password", broker.Password, "--mqtt-events", "alarm.raised,alarm.repeated",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort)}})

	base, fast := receiver(b, 0, "/fast")
	if st, _, body := n.Do("POST", "/v1/webhooks", "", fmt.Sprintf(`{"url":%q,"events":["alarm.raised","alarm.repeated"]}`, base+"/fast")); st != 201 {
		b.Fatalf("webhook: %d %s", st, body)
	}
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"alm-b","name":"hall","onvif":%q,"username":"admin","password":"pw"}`, srv.DeviceURL())); st != 201 {
		b.Fatalf("add: %d %s", st, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Subscriptions() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Subscriptions() == 0 {
		b.Fatal("the node did not subscribe to the camera's events")
	}

	mq := newArrivals()
	opts := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", broker.Port)).SetUsername(broker.User).SetPassword(broker.Password).SetClientID("bench-sub")
	mc := paho.NewClient(opts)
	if t := mc.Connect(); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		b.Fatalf("mqtt connect: %v", t.Error())
	}
	defer mc.Disconnect(100)
	if t := mc.Subscribe("argus/alarms/alm-b", 1, func(paho.Client, paho.Message) { mq.add() }); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		b.Fatalf("mqtt subscribe: %v", t.Error())
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), testenv.NodeNATS())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	facts := newArrivals()
	nc.Subscribe("argus.evt.*.device.alm-b", func(m *nats.Msg) {
		var env pb.Envelope
		if proto.Unmarshal(m.Data, &env) == nil {
			if ce := env.GetDeviceCameraEvent(); ce != nil && ce.GetState() {
				facts.add()
			}
		}
	})

	const runs = 60
	var toHook, toMQTT, toLog []time.Duration
	for range runs {
		nh, nm, nf := fast["/fast"].count(), mq.count(), facts.count()
		start := time.Now()
		srv.RaiseMotion("p1", true)
		toLog = append(toLog, facts.next(b, "camera event in the log", nf).Sub(start))
		toHook = append(toHook, fast["/fast"].next(b, "webhook", nh).Sub(start))
		toMQTT = append(toMQTT, mq.next(b, "mqtt", nm).Sub(start))
		srv.RaiseMotion("p1", false)
		time.Sleep(50 * time.Millisecond)
	}
	p := func(d []time.Duration, q float64) time.Duration {
		return percentile(append([]time.Duration(nil), d...), q)
	}
	results.add("camera event → webhook received p50 / p99", ms(p(toHook, .5))+" / "+ms(p(toHook, .99)),
		"fact in the log "+ms(p(toLog, .5))+" / "+ms(p(toLog, .99)), fmt.Sprintf("%.1f× p99", float64(p(toHook, .99))/float64(p(toLog, .99))), "p99 ≤ 1 s")
	results.add("camera event → MQTT received p50 / p99", ms(p(toMQTT, .5))+" / "+ms(p(toMQTT, .99)),
		"fact in the log "+ms(p(toLog, .5))+" / "+ms(p(toLog, .99)), fmt.Sprintf("%.1f× p99", float64(p(toMQTT, .99))/float64(p(toLog, .99))), "p99 ≤ 1 s")

	// Throughput to a slow endpoint: one webhook per concurrency, the same
	// alarms (100 over 20 devices) for all.
	slowBase, slow := receiver(b, 100*time.Millisecond, "/c1", "/c4", "/c16")
	for _, c := range []int{1, 4, 16} {
		if st, _, body := n.Do("POST", "/v1/webhooks", "", fmt.Sprintf(`{"url":"%s/c%d","events":["alarm.raised"],"concurrency":%d}`, slowBase, c, c)); st != 201 {
			b.Fatalf("slow webhook: %d %s", st, body)
		}
	}
	for d := range 20 {
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"tp-%d","name":"d","url":"rtsp://127.0.0.1:9/x"}`, d)); st != 201 {
			b.Fatalf("device: %d %s", st, body)
		}
	}
	const alarms = 100
	start := time.Now()
	for i := range alarms {
		if st, _, body := n.Do("POST", "/v1/alarms", "", fmt.Sprintf(`{"device":"tp-%d","type":"t%d"}`, i%20, i)); st != 201 {
			b.Fatalf("raise: %d %s", st, body)
		}
	}
	rate := map[string]float64{}
	for _, path := range []string{"/c1", "/c4", "/c16"} {
		last := slow[path].next(b, "slow webhook "+path, alarms-1)
		rate[path] = alarms / last.Sub(start).Seconds()
	}
	for _, c := range []string{"4", "16"} {
		results.add("webhook deliveries/s to a 100 ms endpoint, concurrency "+c, fmt.Sprintf("%.1f/s", rate["/c"+c]),
			fmt.Sprintf("concurrency 1: %.1f/s", rate["/c1"]), fmt.Sprintf("%.1f×", rate["/c"+c]/rate["/c1"]), "scales with concurrency")
	}
}

package cluster

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/argus-vms/argus/actors/peertls"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go"
)

// A cluster keeps out whoever does not hold its secret: NATS clients
// without credentials, senders on the peer port without the cluster's
// certificate, and a node started with another secret.
func TestClusterKeepsOutsidersOut(t *testing.T) {
	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{})
	n1 := c.Nodes[0]
	if st, _, body := n1.Do("POST", "/v1/devices", "", `{"id":"keep","name":"k","url":"rtsp://127.0.0.1:9/x"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}

	// NATS: no credentials, wrong ones → refused; the derived ones work.
	for _, opts := range [][]nats.Option{nil, {nats.UserInfo("argus", "guess")}} {
		if nc, err := nats.Connect(n1.NATS, opts...); err == nil {
			nc.Close()
			t.Errorf("NATS accepted a client with %d options and no valid credentials", len(opts))
		}
	}
	nc, err := nats.Connect(n1.NATS, testenv.NodeNATS())
	if err != nil {
		t.Fatalf("NATS with the cluster's credentials: %v", err)
	}
	nc.Close()

	// Peer port: a RemoveDevice from an engine without the cluster's
	// certificate (none, or another secret's) never reaches an actor.
	other, _ := peertls.FromSecret([]byte("another-secret-0123456789"), "intruder")
	for _, cfg := range []remote.Config{remote.NewConfig(), remote.NewConfig().WithTLS(other)} {
		r := remote.New(fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), cfg)
		e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes {
			if res, err := e.Request(actor.NewPID(n.Peer, "argus/node"), &pb.RemoveDevice{Id: "keep"}, 2*time.Second).Result(); err == nil {
				t.Errorf("peer port of %s answered an outsider: %v", n.ID, res)
			}
		}
		r.Stop().Wait()
	}
	if st, _, body := n1.Do("GET", "/v1/devices/keep", "", ""); st != 200 {
		t.Fatalf("the device is gone after the outsiders' RemoveDevice: %d %s", st, body)
	}

	// A fourth node with another secret cannot join: its NATS routes are
	// refused, so it never gets JetStream and never becomes ready.
	var routes []string
	for _, n := range c.Nodes {
		routes = append(routes, n.Route)
	}
	httpPort := testenv.FreePort(t)
	route := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(testenv.Binary(t), "serve", "--node-id", "n4", "--advertise", "127.0.0.1", "--data", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--rtsp", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--rtsp-udp", "", "--webrtc-udp", "",
		"--peer-port", fmt.Sprint(testenv.FreePort(t)), "--probe-interval", "0", "--embedded-nats",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--nats-cluster-listen", route,
		"--nats-routes", strings.Join(append(routes, "nats://"+route), ","))
	cmd.Env = append(os.Environ(), "ARGUS_ADMIN_KEY=other-admin-key-0123", "ARGUS_SECRET=another-secret-0123456789", "ARGUS_CLICKHOUSE=none")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatalf("a node with another secret became ready:\n%s", out.String())
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	st, _, body := n1.Do("GET", "/v1/cluster", "", "")
	if st != 200 || strings.Contains(string(body), `"n4"`) {
		t.Fatalf("cluster view with an outsider: %d %s", st, body)
	}
}

package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

// rawPublishRate is the baseline: JetStream async publish of 256-byte
// messages to a file-storage stream, 4096 in flight.
func rawPublishRate(b *testing.B, js jetstream.JetStream, n int) float64 {
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 256)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync("bench.raw."+strconv.Itoa(i%1000), payload); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("raw publish did not complete")
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkCore measures issue 2's figures: (a) raw JetStream rate, (b)
// device commands through the actors, (c) HTTP latency, (d) activation of
// 100k devices.
func BenchmarkCore(b *testing.B) {
	srv := testenv.NewNATS(b)
	nc := testenv.Connect(b, srv.ClientURL())
	ctx := context.Background()
	store, err := events.Open(ctx, nc)
	if err != nil {
		b.Fatal(err)
	}

	// (a) baseline
	raw := rawPublishRate(b, store.JetStream(), 200_000)
	results.add("(a) raw JetStream async publish, 256 B, file storage", fmt.Sprintf("%.0f msg/s", raw), "—", "1", "baseline")

	// (b) commands through the actors, 1000 devices in parallel.
	sealer, _ := secret.NewSealer([]byte("bench-secret-0123456789abcdef"))
	engine, _ := actor.NewEngine(actor.NewEngineConfig())
	deps := &device.Deps{Store: store, Sealer: sealer, Node: "bench", Directory: device.NewDirectory(), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	host, err := shard.Start(ctx, engine, deps, shard.Config{Shards: events.DefaultShards})
	if err != nil {
		b.Fatal(err)
	}
	const devices, updates = 1000, 40
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for d := 0; d < devices; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("bench-%d", d)
			if r, err := host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "b", Url: "rtsp://h/s"}); err != nil || r.Code != 0 {
				failed.Add(1)
				return
			}
			for u := 0; u < updates; u++ {
				name := fmt.Sprint("n", u)
				if r, err := host.Ask(ctx, id, &pb.UpdateDevice{Id: id, Name: &name}); err != nil || r.Code != 0 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cmdRate := float64(devices*(updates+1)) / time.Since(start).Seconds()
	if failed.Load() > 0 {
		b.Errorf("%d commands failed", failed.Load())
	}
	results.add("(b) device commands through actors, 1000 devices in parallel", fmt.Sprintf("%.0f cmd/s", cmdRate), fmt.Sprintf("%.0f msg/s", raw), fmt.Sprintf("%.2f", cmdRate/raw), "≥ 0.5")

	// (d) populate 100k devices through the actors, then time a fresh node's activation.
	const total = 100_000
	start = time.Now()
	sem := make(chan struct{}, 1000)
	for d := devices; d < total; d++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("bench-%d", d)
			host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "b", Url: "rtsp://h/s", Labels: map[string]string{"site": "s" + strconv.Itoa(d%50)}})
		}()
	}
	wg.Wait()
	b.Logf("populated %d devices in %s", total, time.Since(start).Round(time.Millisecond))
	host.Stop()
	activate(b, srv.ClientURL(), total)

	// (c) HTTP
	httpBench(b)
}

// activate starts `argus serve` against the populated log and measures the
// time until it is ready and its resident memory with every actor active.
func activate(b *testing.B, natsURL string, total int) {
	port := testenv.FreePort(b)
	cmd := exec.Command(testenv.Binary(b), "serve", "--nats", natsURL, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--node-id", "act", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "ARGUS_ADMIN_KEY=bench-admin-key", "ARGUS_SECRET=bench-secret-0123456789abcdef", "ARGUS_CLICKHOUSE=")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	for {
		if time.Since(start) > 5*time.Minute {
			b.Fatal("activation did not finish in 5 minutes")
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	rss := rssBytes(cmd.Process.Pid)
	results.add("(d) activation of 100k devices from the log (argus serve start → ready)", fmt.Sprintf("%s, %.0f devices/s", took.Round(time.Millisecond), float64(total)/took.Seconds()), "—", "—", "—")
	results.add("(d) RSS with 100k active device actors", fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20)), "—", "—", "≤ 1024 MiB")
}

func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
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
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const payloadSize = 256

// rawPublishRate is baseline (a): JetStream async publish of 256-byte
// messages to a file-storage stream, 4096 in flight.
func rawPublishRate(b *testing.B, js jetstream.JetStream, n int) float64 {
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, payloadSize)
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

var fencedCalls atomic.Int64

// fencedPublishRate is baseline (a'): what the log itself costs with the
// headers every Argus append carries (Nats-Msg-Id and
// Nats-Expected-Last-Subject-Sequence), 1000 subjects pipelined, no actors.
func fencedPublishRate(b *testing.B, js jetstream.JetStream, rounds int) float64 {
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_FENCED", Subjects: []string{"bench.fenced.>"}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, payloadSize)
	const subjects = 1000
	last := make([]uint64, subjects)
	futs := make([]jetstream.PubAckFuture, subjects)
	prefix := nats.NewInbox()
	call := fencedCalls.Add(1) // fresh subjects per call: their expected sequence starts at 0
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for i := 0; i < subjects; i++ {
			m := &nats.Msg{Subject: "bench.fenced." + strconv.Itoa(int(call)) + "." + strconv.Itoa(i), Data: payload, Header: nats.Header{}}
			f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(prefix+strconv.Itoa(r*subjects+i)), jetstream.WithExpectLastSequencePerSubject(last[i]))
			if err != nil {
				b.Fatal(err)
			}
			futs[i] = f
		}
		for i, f := range futs {
			select {
			case a := <-f.Ok():
				last[i] = a.Sequence
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	return float64(rounds*subjects) / time.Since(start).Seconds()
}

// actorCommandRate is figure (b): commands through Host.Ask → device actor →
// fenced append → apply → reply, 1000 devices in parallel, each sending its
// next command when the previous one is answered.
func actorCommandRate(b *testing.B, host *shard.Host, round, devices, updates int) float64 {
	ctx := context.Background()
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for d := 0; d < devices; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%d-dev-%d", round, d)
			if r, err := host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "b", Url: "rtsp://h/s"}); err != nil || r.Code != 0 {
				failed.Add(1)
				return
			}
			for u := 0; u < updates; u++ {
				name := "n" + strconv.Itoa(u)
				if r, err := host.Ask(ctx, id, &pb.UpdateDevice{Id: id, Name: &name}); err != nil || r.Code != 0 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Errorf("%d commands failed", failed.Load())
	}
	return float64(devices*(updates+1)) / time.Since(start).Seconds()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkCore measures issue 2's figures: (a) raw JetStream rate, (b)
// device commands through the actors, (c) HTTP latency, (d) activation of
// 100k devices. (a), (a') and (b) run interleaved three times; medians are
// reported so one noisy second does not decide a ratio.
func BenchmarkCore(b *testing.B) {
	// (c) first, while this process is small: the load generator shares the
	// two cores with the node, and a large heap here (100k devices below)
	// would add its GC pauses to the node's latency.
	httpBench(b)

	srv := testenv.NewNATS(b)
	nc := testenv.Connect(b, srv.ClientURL())
	ctx := context.Background()
	store, err := events.Open(ctx, nc)
	if err != nil {
		b.Fatal(err)
	}
	sealer, _ := secret.NewSealer([]byte("bench-secret-0123456789abcdef"))
	engine, _ := actor.NewEngine(actor.NewEngineConfig())
	deps := &device.Deps{Store: store, Sealer: sealer, Node: "bench", Directory: device.NewDirectory(), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	host, err := shard.Start(ctx, engine, deps, shard.Config{Shards: events.DefaultShards})
	if err != nil {
		b.Fatal(err)
	}

	var raws, fenced, cmds []float64
	for round := 0; round < 3; round++ {
		raws = append(raws, rawPublishRate(b, store.JetStream(), 200_000))
		fenced = append(fenced, fencedPublishRate(b, store.JetStream(), 100))
		cmds = append(cmds, actorCommandRate(b, host, round, 1000, 60))
	}
	raw, fen, cmd := median(raws), median(fenced), median(cmds)
	b.Logf("rounds: raw %v, fenced %v, actors %v", raws, fenced, cmds)
	results.add("(a) raw JetStream async publish, 256 B, file storage (median of 3)", fmt.Sprintf("%.0f msg/s", raw), "—", "1", "baseline")
	results.add("(a') fenced publish: + Nats-Msg-Id + expected last subject seq, no actors", fmt.Sprintf("%.0f msg/s", fen), fmt.Sprintf("%.0f msg/s (a)", raw), fmt.Sprintf("%.2f", fen/raw), "baseline (the log's own floor)")
	results.add("(b) device commands through actors, 1000 devices in parallel (median of 3)", fmt.Sprintf("%.0f cmd/s", cmd), fmt.Sprintf("%.0f msg/s (a)", raw), fmt.Sprintf("%.2f of (a), %.2f of (a')", cmd/raw, cmd/fen), "≥ 0.5 of (a)")

	// (d) populate 100k devices through the actors, then time a fresh node's activation.
	total := 100_000
	have := 3 * 1000
	start := time.Now()
	sem := make(chan struct{}, 1000)
	var wg sync.WaitGroup
	for d := have; d < total; d++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("act-%d", d)
			host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "b", Url: "rtsp://h/s", Labels: map[string]string{"site": "s" + strconv.Itoa(d%50)}})
		}()
	}
	wg.Wait()
	b.Logf("populated %d devices in %s", total, time.Since(start).Round(time.Millisecond))
	host.Stop()
	activate(b, srv.ClientURL(), total)
}

// activate starts `argus serve` against the populated log and measures the
// time until it is ready and its resident memory with every actor active.
func activate(b *testing.B, natsURL string, total int) {
	took, rss := serveReady(b, "--nats", natsURL)
	results.add("(d) activation of 100k devices from the log (argus serve start → ready)", fmt.Sprintf("%s, %.0f devices/s", took.Round(time.Millisecond), float64(total)/took.Seconds()), "—", "—", "—")
	results.add("(d) RSS with 100k active device actors", fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20)), "—", "—", "≤ 1024 MiB")
}

// serveReady starts `argus serve` with the log nats names (--nats URL, or
// an embedded server's flags), waits until it is ready and returns how
// long that took and its resident memory then.
func serveReady(b *testing.B, nats ...string) (time.Duration, int64) {
	n := startServe(b, b.TempDir(), nats...)
	defer n.stop()
	time.Sleep(time.Second) // plans evaluate, streams settle
	return n.ready, rssBytes(n.cmd.Process.Pid)
}

// served is an `argus serve` started by startServe.
type served struct {
	cmd   *exec.Cmd
	port  int
	ready time.Duration // process start → /readyz 200
}

func (n served) stop() { n.cmd.Process.Kill(); n.cmd.Wait() }

// startServe starts a single `argus serve` node with data (admin key
// bench-admin-key) and waits until it is ready.
func startServe(b *testing.B, data string, nats ...string) served {
	port := testenv.FreePort(b)
	args := append([]string{"serve"}, nats...)
	args = append(args, "--data", data, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--node-id", "act", "--log-level", "warn", "--peer-port", "0",
		"--rtsp", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b)), "--rtsp-udp", "", "--webrtc-udp", "", "--probe-interval", "0")
	cmd := exec.Command(testenv.Binary(b), args...)
	cmd.Env = append(os.Environ(), "ARGUS_ADMIN_KEY=bench-admin-key", "ARGUS_SECRET=bench-secret-0123456789abcdef", "ARGUS_CLICKHOUSE=")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	n := served{cmd: cmd, port: port}
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	for {
		if time.Since(start) > 5*time.Minute {
			n.stop()
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
	n.ready = time.Since(start)
	return n
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

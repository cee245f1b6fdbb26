package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// httpBench: closed loop at fixed concurrency gives the peak rate of
// create+patch over HTTP; an open loop at half that rate gives p50/p99
// (latency counted from the scheduled send time, so queueing shows).
func httpBench(b *testing.B) {
	n := testenv.StartDev(b, testenv.NodeOptions{Env: benchEnv()})
	const conc = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	var seq atomic.Int64
	op := func() (time.Duration, bool) {
		i := seq.Add(1)
		var req *http.Request
		if i%2 == 1 {
			req, _ = http.NewRequest("POST", n.HTTP+"/v1/devices", strings.NewReader(fmt.Sprintf(`{"id":"h-%d","name":"h","url":"rtsp://h/s"}`, i)))
		} else {
			req, _ = http.NewRequest("PATCH", n.HTTP+fmt.Sprintf("/v1/devices/h-%d", i-1), strings.NewReader(`{"name":"renamed"}`))
		}
		req.Header.Set("Authorization", "Bearer "+n.AdminKey)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(t0), resp.StatusCode < 300 || resp.StatusCode == 404
	}

	// Closed loop: peak.
	dur := 5 * time.Second
	var done, errs atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, ok := op(); ok {
					done.Add(1)
				} else {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	peak := float64(done.Load()) / dur.Seconds()
	results.add(fmt.Sprintf("(c) HTTP create/patch peak, %d concurrent", conc), fmt.Sprintf("%.0f req/s (%d errors)", peak, errs.Load()), "—", "—", "—")

	mark := len(n.Output())
	// Open loop at half the peak.
	rate := peak / 2
	interval := time.Duration(float64(time.Second) / rate)
	// A fixed pool of senders takes scheduled send times from a queue: the
	// client costs no goroutine per request, and a late send still counts
	// its wait from the scheduled time.
	var mu sync.Mutex
	var lat []time.Duration
	queue := make(chan time.Time, 100000)
	for w := 0; w < 128; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range queue {
				_, ok := op()
				d := time.Since(at)
				mu.Lock()
				if ok {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	if os.Getenv("BENCH_PROFILE") != "" {
		go func() {
			_, _, body := n.Do("GET", "/debug/pprof/profile?seconds=4", "", "")
			os.WriteFile(os.Getenv("BENCH_PROFILE"), body, 0o644)
		}()
	}
	begin := time.Now()
	for k := 0; ; k++ {
		at := begin.Add(time.Duration(k) * interval)
		if at.Sub(begin) > dur {
			break
		}
		time.Sleep(time.Until(at))
		queue <- at
	}
	close(queue)
	wg.Wait()
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	b.Logf("p90 %s p95 %s p999 %s max %s n=%d", percentile(lat, 0.9), percentile(lat, 0.95), percentile(lat, 0.999), percentile(lat, 1), len(lat))
	var srv []time.Duration
	for _, l := range strings.Split(n.Output()[mark:], "\n") {
		if i := strings.Index(l, " ms="); i > 0 {
			var v float64
			fmt.Sscanf(l[i+4:], "%f", &v)
			srv = append(srv, time.Duration(v*float64(time.Millisecond)))
		}
	}
	b.Logf("server-side: p50 %s p99 %s max %s n=%d", percentile(srv, .5), percentile(srv, .99), percentile(srv, 1), len(srv))
	if st, _, body := n.Do("GET", "/metrics", "", ""); st == 200 {
		for _, l := range strings.Split(string(body), "\n") {
			if (strings.HasPrefix(l, "argus_http_request_seconds_bucket") && strings.Contains(l, "devices")) || strings.HasPrefix(l, "argus_event_append_seconds_bucket") || strings.HasPrefix(l, "go_gc_duration") {
				fmt.Fprintln(os.Stderr, "METRIC", l)
			}
		}
	}
	results.add(fmt.Sprintf("(c) HTTP create/patch at half peak (%.0f req/s) p50 / p99", rate), ms(p50)+" / "+ms(p99), "—", "—", "p99 ≤ 10 ms")
}

func benchEnv() []string {
	if v := os.Getenv("BENCH_NODE_GOGC"); v != "" {
		return []string{"GOGC=" + v}
	}
	return nil
}

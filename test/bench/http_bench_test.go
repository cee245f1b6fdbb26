package bench

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// httpBench is figure (c): a closed loop at fixed concurrency gives the peak
// rate of create+patch over HTTP against an `argus dev` process; open loops
// at half that rate give p50/p99, counted from each request's scheduled send
// time so queueing shows (no coordinated omission). Client and server share
// this machine's two cores.
func httpBench(b *testing.B) {
	n := testenv.StartDev(b, testenv.NodeOptions{})
	const conc = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	// Patches go to a pool of devices created up front, so every request
	// is a real command that succeeds (no 404 from racing its create).
	const pool = 1000
	for i := 0; i < pool; i++ {
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"pool-%d","name":"p","url":"rtsp://h/s"}`, i)); st != 201 {
			b.Fatalf("create pool device: %d %s", st, body)
		}
	}
	var seq atomic.Int64
	op := func() bool {
		i := seq.Add(1)
		var req *http.Request
		if i%2 == 1 {
			req, _ = http.NewRequest("POST", n.HTTP+"/v1/devices", strings.NewReader(fmt.Sprintf(`{"id":"h-%d","name":"h","url":"rtsp://h/s"}`, i)))
		} else {
			req, _ = http.NewRequest("PATCH", n.HTTP+fmt.Sprintf("/v1/devices/pool-%d", i%pool), strings.NewReader(fmt.Sprintf(`{"name":"renamed %d"}`, i)))
		}
		req.Header.Set("Authorization", "Bearer "+n.AdminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode < 300
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
				if op() {
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

	rate := peak / 2
	var p50s, p99s, srv99s []float64
	for run := 0; run < 3; run++ {
		mark := len(n.Output())
		lat := openLoop(rate, 4*time.Second, op)
		p50s = append(p50s, float64(percentile(lat, .50)))
		p99s = append(p99s, float64(percentile(lat, .99)))
		srv99s = append(srv99s, float64(percentile(serverLatencies(n.Output()[mark:]), .99)))
	}
	b.Logf("open-loop runs: p50 %v p99 %v server p99 %v", p50s, p99s, srv99s)
	results.add(fmt.Sprintf("(c) HTTP create/patch at half peak (%.0f req/s) p50 / p99, median of 3", rate),
		ms(time.Duration(median(p50s)))+" / "+ms(time.Duration(median(p99s))),
		"server-side p99 "+ms(time.Duration(median(srv99s))), "—", "p99 ≤ 10 ms")
}

// openLoop sends at a fixed rate for dur from a pool of senders and returns
// the latencies of successful requests, each from its scheduled send time.
func openLoop(rate float64, dur time.Duration, op func() bool) []time.Duration {
	interval := time.Duration(float64(time.Second) / rate)
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	queue := make(chan time.Time, 1<<16)
	for w := 0; w < 128; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range queue {
				ok := op()
				d := time.Since(at)
				if ok {
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}
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
	return lat
}

// serverLatencies reads the handling times the node logged (ms=…).
func serverLatencies(log string) []time.Duration {
	var out []time.Duration
	for _, l := range strings.Split(log, "\n") {
		if i := strings.Index(l, " ms="); i > 0 && strings.Contains(l, "/v1/devices") {
			var v float64
			fmt.Sscanf(l[i+4:], "%f", &v)
			out = append(out, time.Duration(v*float64(time.Millisecond)))
		}
	}
	return out
}

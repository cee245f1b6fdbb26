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

// httpBench: closed loop at fixed concurrency gives the peak rate of
// create+patch over HTTP; an open loop at half that rate gives p50/p99
// (latency counted from the scheduled send time, so queueing shows).
func httpBench(b *testing.B) {
	n := testenv.StartDev(b, testenv.NodeOptions{})
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

	// Open loop at half the peak.
	rate := peak / 2
	interval := time.Duration(float64(time.Second) / rate)
	var mu sync.Mutex
	var lat []time.Duration
	begin := time.Now()
	for k := 0; ; k++ {
		at := begin.Add(time.Duration(k) * interval)
		if at.Sub(begin) > dur {
			break
		}
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok := op()
			d := time.Since(at)
			mu.Lock()
			if ok {
				lat = append(lat, d)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	results.add(fmt.Sprintf("(c) HTTP create/patch at half peak (%.0f req/s) p50 / p99", rate), ms(p50)+" / "+ms(p99), "—", "—", "p99 ≤ 10 ms")
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/browser"
	"github.com/argus-vms/argus/test/testenv"
)

// BenchmarkConsoleBrowser: the console in headless Chromium (issue 14).
//   - The device list's first render (navigation start → first device row)
//     with 10k devices, next to the same page with one device, same run
//     (goal ≤ 1 s).
//   - A live tile's time to first frame over HLS (navigation start → a
//     decoded frame in the <video>), warm (the stream already pulled) and
//     cold (the camera pulled on demand), next to ffmpeg reading the same
//     HLS URL to its first decoded frame.
func BenchmarkConsoleBrowser(b *testing.B) {
	browser.NeedTools(b)
	browser.NPMCI(b)
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"cam1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cam.Close)
	// --nats-sync 1s: registering 10k devices is set-up, not the figure.
	n := testenv.StartDev(b, testenv.NodeOptions{Args: []string{"--nats-sync", "1s", "--idle-timeout", "3s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"cam-1","name":"bench","url":%q}`, cam.URL("cam1"))); st != 201 {
		b.Fatalf("create: %d %s", st, body)
	}

	one, _ := consoleRuns(b, n, "/devices", "rows", 5)
	registerMany(b, n, 10000)
	many, parts := consoleRuns(b, n, "/devices", "rows", 5)
	results.add("console device list first render, 10k devices (p50 of 5, headless Chromium)", ms(percentile(many, 0.5)),
		ms(percentile(one, 0.5))+" with 1 device", ratio(many, one), "≤ 1 s")
	var dom, apiStart, apiEnd []time.Duration
	for _, p := range parts {
		dom, apiStart, apiEnd = append(dom, p.dom()), append(apiStart, p.apiStart()), append(apiEnd, p.apiEnd())
	}
	results.add("  of which: page loaded (DOMContentLoaded) / list asked / list answered (p50, 10k devices)",
		ms(percentile(dom, 0.5))+" / "+ms(percentile(apiStart, 0.5))+" / "+ms(percentile(apiEnd, 0.5)), "—", "—", "where the time goes")

	// Warm: an RTSP reader holds the stream while the tiles open.
	urls := liveURLs(b, n, "cam-1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	holder := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", urls.RTSP, "-c", "copy", "-f", "null", "-")
	if err := holder.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	warm, _ := consoleRuns(b, n, "/live?layout=1&tiles=cam-1:1", "frame", 5)
	var ff []time.Duration
	for range 5 {
		ff = append(ff, ffmpegFirstFrame(b, liveURLs(b, n, "cam-1", 1).HLS))
	}
	cancel()
	holder.Wait()
	results.add("console live tile time to first frame over HLS, warm (p50 of 5)", ms(percentile(warm, 0.5)),
		ms(percentile(ff, 0.5))+" ffmpeg on the same HLS URL", ratio(warm, ff), "report (WebRTC issue improves it)")

	// Cold: nobody reads the stream; the tile's request starts the pull.
	var cold []time.Duration
	for range 3 {
		waitNoStreams(b, n)
		d, _ := consoleRuns(b, n, "/live?layout=1&tiles=cam-1:1", "frame", 1)
		cold = append(cold, d...)
	}
	results.add("console live tile time to first frame over HLS, cold start (p50 of 3)", ms(percentile(cold, 0.5)),
		ms(percentile(warm, 0.5))+" warm", ratio(cold, warm), "report")
}

// consoleRuns runs test/browser/bench.mjs: runs fresh browser contexts open
// /console<page> and wait for the first device row or the first frame.
// renderParts are one run's marks on the page's clock (ms): DOMContentLoaded
// and its first /v1 request's start and end.
type renderParts struct {
	DOM      float64 `json:"dom_ms"`
	APIStart float64 `json:"api_start_ms"`
	APIEnd   float64 `json:"api_end_ms"`
}

func msDuration(v float64) time.Duration      { return time.Duration(v * float64(time.Millisecond)) }
func (p renderParts) dom() time.Duration      { return msDuration(p.DOM) }
func (p renderParts) apiStart() time.Duration { return msDuration(p.APIStart) }
func (p renderParts) apiEnd() time.Duration   { return msDuration(p.APIEnd) }

func consoleRuns(b *testing.B, n *testenv.Node, page, waitFor string, runs int) ([]time.Duration, []renderParts) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "bench.mjs")
	cmd.Dir = browser.Dir()
	cmd.Env = append(os.Environ(), "BASE_URL="+n.HTTP, "ADMIN_KEY="+n.AdminKey, "PAGE="+page, "WAIT_FOR="+waitFor,
		fmt.Sprintf("RUNS=%d", runs), "CHROMIUM="+browser.Chromium)
	cmd.WaitDelay = 5 * time.Second // chromium helpers may hold the pipe
	out, err := cmd.Output()
	var res struct {
		Samples []float64     `json:"samples_ms"`
		Parts   []renderParts `json:"parts"`
	}
	if jerr := json.Unmarshal(lastLine(out), &res); jerr != nil || len(res.Samples) != runs {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		b.Fatalf("bench.mjs %s: %v %v\n%s%s", page, err, jerr, out, stderr)
	}
	d := make([]time.Duration, len(res.Samples))
	for i, s := range res.Samples {
		d[i] = msDuration(s)
	}
	return d, res.Parts
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// registerMany adds count devices (pointing nowhere; probes are off) with
// 16 concurrent clients.
func registerMany(b *testing.B, n *testenv.Node, count int) {
	b.Helper()
	start := time.Now()
	ids := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				body := fmt.Sprintf(`{"id":"bulk-%05d","name":"bulk %d","url":"rtsp://127.0.0.1:9/%d","labels":{"site":"s%d"}}`, i, i, i, i%20)
				if st, _, resp := n.Do("POST", "/v1/devices", "", body); st != 201 {
					failed.Do(func() { b.Errorf("create bulk-%05d: %d %s", i, st, resp) })
				}
			}
		}()
	}
	for i := range count {
		ids <- i
	}
	close(ids)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("registered %d devices in %.1f s", count, time.Since(start).Seconds())
}

type liveURL struct {
	RTSP string `json:"rtsp_url"`
	HLS  string `json:"hls_url"`
}

func liveURLs(b *testing.B, n *testenv.Node, device string, ch int) liveURL {
	b.Helper()
	st, _, body := n.Do("GET", fmt.Sprintf("/v1/devices/%s/channels/%d/live", device, ch), "", "")
	var u liveURL
	if err := json.Unmarshal(body, &u); st != 200 || err != nil {
		b.Fatalf("live URLs: %d %s", st, body)
	}
	return u
}

// ffmpegFirstFrame is the time ffmpeg takes from start to its first decoded
// frame of an HLS URL.
func ffmpegFirstFrame(b *testing.B, url string) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command("ffmpeg", "-loglevel", "error", "-i", url, "-frames:v", "1", "-f", "null", "-").CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg %s: %v\n%s", url, err, out)
	}
	return time.Since(start)
}

// waitNoStreams waits until the node has no live stream (idle ones stop
// after --idle-timeout).
func waitNoStreams(b *testing.B, n *testenv.Node) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		st, _, body := n.Do("GET", "/v1/streams", "", "")
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		if st == 200 && json.Unmarshal(body, &l) == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.Fatal("the live stream did not stop after its idle timeout")
}

func ratio(a, base []time.Duration) string {
	x, y := percentile(a, 0.5), percentile(base, 0.5)
	if y == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(x)/float64(y))
}

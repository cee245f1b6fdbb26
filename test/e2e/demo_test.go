package e2e

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// `argus dev --demo 2`: two fake cameras registered once as demo-1 and
// demo-2, recording continuously; a restart registers nothing and does not
// bring back a removed one, whose camera stopped.
func TestDevDemo(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--demo", "2"}})
	demoReady := func(times int) {
		waitFor(t, "demo cameras running", 60*time.Second, func() bool {
			return strings.Count(n.Output(), "demo cameras running") >= times
		})
	}
	demoReady(1)
	if !strings.Contains(n.Output(), "console: http://localhost:") {
		t.Errorf("no console line in the output:\n%s", n.Output())
	}

	devs := map[string]deviceJSON{}
	for i := 1; i <= 2; i++ {
		id := fmt.Sprintf("demo-%d", i)
		st, _, body := n.Do("GET", "/v1/devices/"+id, "", "")
		if st != 200 {
			t.Fatalf("%s: %d %s", id, st, body)
		}
		d := decode[deviceJSON](t, body)
		if d.Name != fmt.Sprintf("Demo camera %d", i) || !strings.HasPrefix(d.URL, "rtsp://127.0.0.1:") {
			t.Errorf("%s: %+v", id, d)
		}
		devs[id] = d
		st, _, body = n.Do("GET", "/v1/devices/"+id+"/channels/1/plan", "", "")
		if st != 200 {
			t.Fatalf("%s plan: %d %s", id, st, body)
		}
		if p := decode[planJSON](t, body); p.Mode != "continuous" || p.Segment != 10 || p.Retention != 1 {
			t.Errorf("%s plan: %+v", id, p)
		}
	}

	// The live stream plays.
	live := liveURLs(t, n, "demo-1", 1, "")
	if got, err := ffprobe(t, live.RTSP); err != nil || got != "h264x640x360" {
		t.Fatalf("ffprobe demo-1 live: %q %v", got, err)
	}

	// A segment gets recorded (10 s segments).
	recorded := func() int {
		st, _, b := n.Do("GET", "/v1/recordings?device=demo-1&channel=1&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "", "")
		if st != 200 {
			t.Fatalf("recordings: %d %s", st, b)
		}
		return len(decode[recordingsJSON](t, b).Items)
	}
	waitFor(t, "a demo-1 segment", 40*time.Second, func() bool { return recorded() >= 1 })

	// Removing demo-2 stops its camera.
	u, err := url.Parse(devs["demo-2"].URL)
	if err != nil {
		t.Fatal(err)
	}
	if !accepts(u.Host) {
		t.Fatalf("demo-2's camera %s does not accept before the removal", u.Host)
	}
	if st, _, body := n.Do("DELETE", "/v1/devices/demo-2", "", ""); st != 204 {
		t.Fatalf("delete demo-2: %d %s", st, body)
	}
	waitFor(t, "demo-2's camera stopped", 10*time.Second, func() bool { return !accepts(u.Host) })

	// A restart registers nothing and leaves demo-2 removed.
	n.Stop()
	n.Restart()
	demoReady(2)
	if st, _, body := n.Do("GET", "/v1/devices/demo-2", "", ""); st != 404 {
		t.Fatalf("demo-2 after restart: %d %s", st, body)
	}
	st, _, body := n.Do("GET", "/v1/devices?limit=1000", "", "")
	if st != 200 {
		t.Fatal(st, string(body))
	}
	var ids []string
	for _, d := range decode[struct {
		Items []deviceJSON `json:"items"`
	}](t, body).Items {
		ids = append(ids, d.ID)
		if d.ID == "demo-1" && (d.CreatedAt != devs["demo-1"].CreatedAt || d.URL != devs["demo-1"].URL) {
			t.Errorf("demo-1 after restart: %+v, was %+v", d, devs["demo-1"])
		}
	}
	if strings.Join(ids, ",") != "demo-1" {
		t.Fatalf("devices after restart: %v", ids)
	}
	if strings.Count(n.Output(), "demo device registered") != 2 {
		t.Errorf("registrations in the output: %d, want the 2 of the first start", strings.Count(n.Output(), "demo device registered"))
	}
	// demo-1's camera is back, on its port.
	live = liveURLs(t, n, "demo-1", 1, "")
	if got, err := ffprobe(t, live.RTSP); err != nil || got != "h264x640x360" {
		t.Fatalf("ffprobe demo-1 live after restart: %q %v", got, err)
	}
}

// accepts reports whether a TCP connection to addr succeeds.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

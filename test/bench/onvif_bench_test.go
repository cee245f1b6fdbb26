package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
	"github.com/argus-vms/argus/actors/media/onvif"
	"github.com/argus-vms/argus/test/testenv"
)

// BenchmarkONVIF (issue 15):
//   - a PTZ command's round trip (GET …/ptz, the camera's status) through
//     the node hosting the device and through another node that passes it
//     on, next to the same call made straight to the camera;
//   - snapshot latency from the camera's snapshot URI (next to fetching it
//     straight) and from the stream's keyframe (next to the first, which
//     starts the stream);
//   - discovery (POST /v1/discovery, unicast) of 100 ONVIF cameras, next to
//     one camera.
func BenchmarkONVIF(b *testing.B) {
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"ch1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cam.Close)
	srv, err := onvifsrv.Start(context.Background(), onvifsrv.Options{Username: "admin", Password: "pw", PTZ: true,
		Profiles: []onvifsrv.Profile{{Token: "p1", StreamURI: cam.StreamURI("ch1")}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)

	cl := testenv.StartCluster(b, 2, testenv.ClusterOptions{})
	n0 := cl.Nodes[0]
	if st, _, body := n0.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"ptz-b","name":"dome","onvif":%q,"username":"admin","password":"pw"}`, srv.DeviceURL())); st != 201 {
		b.Fatalf("add: %d %s", st, body)
	}
	st, _, body := n0.Do("GET", "/v1/devices/ptz-b/channels/1/live", "", "")
	var live struct {
		Node string `json:"node"`
	}
	if err := json.Unmarshal(body, &live); st != 200 || err != nil {
		b.Fatalf("live: %d %s", st, body)
	}
	owner, other := cl.Nodes[0], cl.Nodes[1]
	if owner.ID != live.Node {
		owner, other = other, owner
	}
	const runs = 50
	via := func(n *testenv.Node) []time.Duration {
		var d []time.Duration
		for range runs {
			start := time.Now()
			if st, _, body := n.Do("GET", "/v1/devices/ptz-b/channels/1/ptz", "", ""); st != 200 {
				b.Fatalf("ptz status via %s: %d %s", n.ID, st, body)
			}
			d = append(d, time.Since(start))
		}
		return d
	}
	client, err := onvif.New(srv.DeviceURL(), onvif.Options{Username: "admin", Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	var direct []time.Duration
	for range runs {
		start := time.Now()
		if _, err := client.PTZStatus(ctx, "p1"); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	here, routed := via(owner), via(other)
	results.add("PTZ status round trip via the hosting node (p50 / p99 of 50)", ms(percentile(here, 0.5))+" / "+ms(percentile(here, 0.99)),
		ms(percentile(direct, 0.5))+" straight to the camera (connected client)", ratio(here, direct), "report")
	results.add("PTZ status round trip via another node (passed on; p50 / p99 of 50)", ms(percentile(routed, 0.5))+" / "+ms(percentile(routed, 0.99)),
		ms(percentile(here, 0.5))+" via the hosting node", ratio(routed, here), "report")

	// Snapshots: the camera's URI and the stream's keyframe, each grab more
	// than the 1 s cache apart; the baseline is the camera's URI fetched
	// straight.
	if st, _, body := owner.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"snap-b","name":"rtsp","url":%q}`, cam.StreamURI("ch1"))); st != 201 {
		b.Fatalf("add rtsp: %d %s", st, body)
	}
	grab := func(path string) time.Duration {
		start := time.Now()
		if st, hdr, body := owner.Do("GET", path, "", ""); st != 200 || hdr.Get("Content-Type") != "image/jpeg" {
			b.Fatalf("snapshot %s: %d %.200s", path, st, body)
		}
		return time.Since(start)
	}
	cold := grab("/v1/devices/snap-b/channels/1/snapshot.jpg")
	var fromURI, fromKeyframe, straight []time.Duration
	snapURL := ""
	for range 12 {
		time.Sleep(1100 * time.Millisecond)
		fromURI = append(fromURI, grab("/v1/devices/ptz-b/channels/1/snapshot.jpg"))
		fromKeyframe = append(fromKeyframe, grab("/v1/devices/snap-b/channels/1/snapshot.jpg"))
		if snapURL == "" {
			var dev struct {
				Sources []struct {
					SnapshotURL string `json:"snapshot_url"`
				} `json:"sources"`
			}
			_, _, body := owner.Do("GET", "/v1/devices/ptz-b", "", "")
			if err := json.Unmarshal(body, &dev); err != nil || len(dev.Sources) == 0 {
				b.Fatalf("device: %s", body)
			}
			snapURL = dev.Sources[0].SnapshotURL
		}
		start := time.Now()
		resp, err := http.Get(snapURL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		straight = append(straight, time.Since(start))
	}
	results.add("snapshot from the camera's URI (p50 / p99 of 12)", ms(percentile(fromURI, 0.5))+" / "+ms(percentile(fromURI, 0.99)),
		ms(percentile(straight, 0.5))+" the URI fetched straight", ratio(fromURI, straight), "report")
	results.add("snapshot from the stream's keyframe, stream running (p50 / p99 of 12)", ms(percentile(fromKeyframe, 0.5))+" / "+ms(percentile(fromKeyframe, 0.99)),
		ms(cold)+" the first one (stream started for it)", ratio(fromKeyframe, []time.Duration{cold}), "report")

	// Discovery: 100 cameras answering unicast probes.
	var targets []string
	for i := range 100 {
		s, err := onvifsrv.Start(ctx, onvifsrv.Options{Discovery: true, Model: fmt.Sprintf("cam-%d", i),
			Profiles: []onvifsrv.Profile{{Token: "p1", StreamURI: cam.StreamURI("ch1")}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		targets = append(targets, s.DiscoveryAddr())
	}
	discover := func(ts []string) (time.Duration, int) {
		body, _ := json.Marshal(map[string]any{"targets": ts, "timeout_ms": 3000})
		start := time.Now()
		st, _, resp := owner.Do("POST", "/v1/discovery", "", string(body))
		took := time.Since(start)
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(resp, &l); st != 200 || err != nil {
			b.Fatalf("discovery: %d %s", st, resp)
		}
		return took, len(l.Items)
	}
	one, n1 := discover(targets[:1])
	all, n100 := discover(targets)
	results.add("discovery of 100 ONVIF cameras (unicast probes, 3 s window)", fmt.Sprintf("%d found in %s", n100, ms(all)),
		fmt.Sprintf("%d found in %s for one camera", n1, ms(one)), fmt.Sprintf("%.2f", float64(all)/float64(one)), "report (all 100 found)")
}

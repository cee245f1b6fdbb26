package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// TestConsoleTasks: a dev node running its tasks itself (--worker-slots 2,
// one slot kept for online tasks), with ClickHouse for the task history,
// records a fakecam camera continuously. In the console, the device page's
// "Export clip" (the time burnt in) makes a clip task of a range inside the
// recording, shows its state until it succeeded, and its download (fetched
// with the key into a Blob) saves an MP4 of more than 10 kB. The tasks page
// shows the node's worker (id n1, 2 slots) and its group, the clip in the
// History tab with its download; the New task form names a missing device
// at its field, then a live snapshot submitted through it succeeds (its
// picture shown, its JPEG downloaded); a task queued for a group without
// workers waits there and is canceled with its row's Cancel. A viewer sees
// neither "Export clip" nor the New task form nor Cancel. No CSP
// violation or page error, and the key never in a URL.
func TestConsoleTasks(t *testing.T) {
	NeedTools(t)
	NPMCI(t)
	shots := ShotsDir(t)
	started := time.Now()

	ch := testenv.ClickHouse(t)
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"cam1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--worker-slots", "2"}})
	const dev = "tcam"
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"tasks cam","url":%q}`, dev, cam.URL("cam1"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, _, body := n.Do("PUT", "/v1/devices/"+dev+"/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		t.Fatalf("plan: %d %s", st, body)
	}
	st, _, body := n.Do("POST", "/v1/keys", "", `{"name":"wall","role":"viewer"}`)
	var viewer struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &viewer); st != 201 || err != nil || viewer.Key == "" {
		t.Fatalf("viewer key: %d %s", st, body)
	}

	// ~12 s recorded (the index lists closed segments).
	var first, last time.Time
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	testenv.WaitFor(t, 60*time.Second, "12 s of recordings", func() bool {
		st, _, b := n.Do("GET", "/v1/recordings?device="+dev+"&channel=1&from="+since, "", "")
		if st != 200 {
			time.Sleep(250 * time.Millisecond)
			return false
		}
		var r struct {
			Items []struct {
				Start time.Time `json:"start"`
				End   time.Time `json:"end"`
			} `json:"items"`
		}
		if json.Unmarshal(b, &r) != nil || len(r.Items) == 0 {
			time.Sleep(250 * time.Millisecond)
			return false
		}
		first, last = r.Items[0].Start, r.Items[len(r.Items)-1].End
		if last.Sub(first) < 12*time.Second {
			time.Sleep(250 * time.Millisecond)
			return false
		}
		return true
	})
	t.Logf("recorded %s – %s (%.1f s into the test)", first.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano), time.Since(started).Seconds())

	RunScript(t, n, "tasks.mjs", shots, 2*time.Minute, "VIEWER_KEY="+viewer.Key, "DEVICE_ID="+dev, "NODE_ID=n1",
		"REC_FROM="+first.UTC().Format(time.RFC3339Nano), "REC_TO="+last.UTC().Format(time.RFC3339Nano), "HISTORY=1")
	t.Logf("the test ran %.1f s", time.Since(started).Seconds())
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

func newKey(t *testing.T, n *testenv.Node, role string) (key, id string) {
	t.Helper()
	st, _, body := n.Do("POST", "/v1/keys", "", `{"name":"k","role":"`+role+`"}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	k := decode[struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}](t, body)
	return k.Key, k.ID
}

// readFor runs ffmpeg on u for up to secs and returns how long it read.
func readFor(t *testing.T, u string, secs int) (time.Duration, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	t0 := time.Now()
	out, _ := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", u,
		"-t", fmt.Sprint(secs), "-f", "null", "-").CombinedOutput()
	return time.Since(t0), string(out)
}

// Live tokens end with their lifetime or their key; every view is audited
// with the key's id, never the key.
func TestTokensEndSessionsAndViewsAreAudited(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	ch := testenv.ClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--view-idle", "2s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"tok","name":"t","url":%q}`, cam.URL("cam1"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	key, keyID := newKey(t, n, "viewer")

	u := liveURLs(t, n, "tok", 1, key)
	// An HLS view (many requests) is one view.
	if out, err := ffprobe(t, u.HLS); err != nil {
		t.Fatalf("hls: %v %s", err, out)
	}

	// A 3 s token: ffmpeg asked for 20 s is cut when it expires.
	st, _, body := n.Do("GET", "/v1/devices/tok/channels/1/live?ttl=3", key, "")
	if st != 200 {
		t.Fatalf("live ttl=3: %d %s", st, body)
	}
	short := decode[liveJSON](t, body)
	if took, out := readFor(t, short.RTSP, 20); took > 12*time.Second {
		t.Errorf("an expired token's session read for %s: %s", took, out)
	}

	// Deleting the key ends its sessions and refuses its tokens (RTSP, HLS).
	done := make(chan time.Duration, 1)
	go func() { d, _ := readFor(t, u.RTSP, 30); done <- d }()
	time.Sleep(4 * time.Second)
	if st, _, body := n.Do("DELETE", "/v1/keys/"+keyID, "", ""); st != 204 {
		t.Fatalf("delete key: %d %s", st, body)
	}
	select {
	case d := <-done:
		if d > 15*time.Second {
			t.Errorf("session of a deleted key lasted %s", d)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the session of a deleted key kept playing")
	}
	time.Sleep(2 * time.Second)
	if out, err := ffprobe(t, u.RTSP); err == nil {
		t.Errorf("a deleted key's token still opens RTSP: %s", out)
	}
	hls := strings.TrimPrefix(u.HLS, n.HTTP)
	if st, _, _ := n.Do("GET", hls, "-", ""); st != 403 {
		t.Errorf("a deleted key's token on HLS: %d", st)
	}
	if strings.Contains(n.Output(), key) {
		t.Error("the node logged an API key")
	}

	// The views are in the log with the key id (and never the key)…
	var views []map[string]any
	waitFor(t, "stream.viewed events", 20*time.Second, func() bool {
		st, _, body := n.Do("GET", "/v1/events?type=stream.viewed", "", "")
		if st != 200 {
			return false
		}
		var page struct {
			Items []struct {
				Data map[string]any `json:"data"`
			} `json:"items"`
		}
		json.Unmarshal(body, &page)
		views = views[:0]
		for _, it := range page.Items {
			views = append(views, it.Data)
		}
		if strings.Contains(string(body), key) {
			t.Fatal("an event holds the API key")
		}
		return len(views) >= 3
	})
	protocols := map[any]int{}
	for _, v := range views {
		protocols[v["protocol"]]++
		if v["key_id"] != keyID || v["device"] != "tok" || v["client"] == "" {
			t.Errorf("view %v", v)
		}
	}
	if protocols["hls"] != 1 || protocols["rtsp"] < 2 {
		t.Errorf("views by protocol %v, want one hls and the rtsp sessions", protocols)
	}
	// …and in ClickHouse: who watched what.
	q := url.Values{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339)},
		"device": {"tok"}, "key": {keyID}}
	waitFor(t, "audit rows", 30*time.Second, func() bool {
		st, _, body := n.Do("GET", "/v1/analytics/audit?"+q.Encode(), "", "")
		var page struct {
			Items []map[string]any `json:"items"`
		}
		json.Unmarshal(body, &page)
		bytes := 0.0
		for _, it := range page.Items {
			if it["key_id"] != keyID {
				t.Fatalf("audit row of another key: %v", it)
			}
			bytes += it["bytes"].(float64)
		}
		return st == 200 && len(page.Items) >= 3 && bytes > 0
	})
}

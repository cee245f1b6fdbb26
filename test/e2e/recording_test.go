package e2e

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

type planJSON struct {
	Mode       string  `json:"mode"`
	Recording  bool    `json:"recording"`
	NextChange *string `json:"next_change"`
	Segment    int     `json:"segment_seconds"`
	Retention  int     `json:"retention_days"`
	Timezone   string  `json:"timezone"`
	Version    uint64  `json:"version"`
}

type recordingsJSON struct {
	Items []struct {
		Start      string   `json:"start"`
		End        string   `json:"end"`
		DurationMS int64    `json:"duration_ms"`
		Bytes      int64    `json:"bytes"`
		URL        string   `json:"url"`
		Alarms     []string `json:"alarms"`
	} `json:"items"`
}

// duration of a media file by ffprobe, in seconds.
func probeDuration(t *testing.T, path string) (float64, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

// recordedFiles lists the published segments and any partial left behind.
func recordedFiles(t *testing.T, dir string) (mp4s, partials []string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".mp4"):
			mp4s = append(mp4s, p)
		default:
			partials = append(partials, p)
		}
		return nil
	})
	return
}

func TestContinuousRecording(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"rec"}})
	ch := testenv.ClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--idle-timeout", "2s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"rec-1","name":"r","url":%q}`, cam.URL("rec"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	// Validation names the field.
	for body, field := range map[string]string{
		`{"mode":"sometimes"}`: "mode",
		`{"mode":"schedule"}`:  "schedule",
		`{"mode":"schedule","schedule":[{"days":["funday"],"start":"08:00","end":"18:00"}]}`: "schedule[0].days[0]",
		`{"mode":"continuous","timezone":"Mars/Olympus"}`:                                    "timezone",
		`{"mode":"continuous","segment_seconds":5}`:                                          "segment_seconds",
		`{"mode":"continuous","retention_days":0}`:                                           "retention_days",
	} {
		st, hdr, b := n.Do("PUT", "/v1/devices/rec-1/channels/1/plan", "", body)
		expectProblem(t, "plan "+body, st, hdr, b, 400, field)
	}
	if st, _, _ := n.Do("PUT", "/v1/devices/rec-1/channels/2/plan", "", `{"mode":"continuous"}`); st != 404 {
		t.Errorf("plan on a channel the device lacks: %d", st)
	}

	st, _, body := n.Do("PUT", "/v1/devices/rec-1/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10,"retention_days":7,"timezone":"Asia/Shanghai"}`)
	if st != 200 {
		t.Fatalf("put plan: %d %s", st, body)
	}
	waitFor(t, "recording", 10*time.Second, func() bool {
		_, _, b := n.Do("GET", "/v1/devices/rec-1/channels/1/plan", "", "")
		return decode[planJSON](t, b).Recording
	})
	// The recording holds the stream although nobody watches.
	time.Sleep(24 * time.Second)
	if len(streams(t, n).Items) != 1 {
		t.Errorf("the recording does not hold the stream open")
	}

	var rec recordingsJSON
	waitFor(t, "two segments indexed", 20*time.Second, func() bool {
		st, _, b := n.Do("GET", "/v1/recordings?device=rec-1&channel=1&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "", "")
		if st != 200 {
			return false
		}
		rec = decode[recordingsJSON](t, b)
		return len(rec.Items) >= 2
	})
	for i, it := range rec.Items[:2] {
		if it.DurationMS < 9000 || it.DurationMS > 11000 {
			t.Errorf("segment %d lasts %d ms", i, it.DurationMS)
		}
		st, hdr, data := n.Do("GET", it.URL, "", "")
		if st != 200 || int64(len(data)) != it.Bytes || hdr.Get("Content-Type") != "video/mp4" {
			t.Fatalf("download %s: %d, %d bytes (index says %d)", it.URL, st, len(data), it.Bytes)
		}
		f := filepath.Join(t.TempDir(), "seg.mp4")
		os.WriteFile(f, data, 0o644)
		d, err := probeDuration(t, f)
		if err != nil || d < 9 || d > 11 {
			t.Errorf("segment %d: ffprobe duration %.2f s, %v", i, d, err)
		}
		// Range requests.
		st, hdr, part := n.Do("GET", it.URL, "", "", "Range", "bytes=100-199")
		if st != 206 || len(part) != 100 || string(part) != string(data[100:200]) {
			t.Errorf("range request: %d, %d bytes, %s", st, len(part), hdr.Get("Content-Range"))
		}
	}

	// Playback over the first two segments: one fMP4 lasting their sum.
	q := "start=" + rec.Items[0].Start + "&end=" + rec.Items[1].End
	st, hdr, mp4 := n.Do("GET", "/v1/devices/rec-1/channels/1/playback.mp4?"+q, "", "")
	if st != 200 || hdr.Get("Content-Length") != strconv.Itoa(len(mp4)) {
		t.Fatalf("playback.mp4: %d, %d bytes, Content-Length %s", st, len(mp4), hdr.Get("Content-Length"))
	}
	pf := filepath.Join(t.TempDir(), "playback.mp4")
	os.WriteFile(pf, mp4, 0o644)
	want := float64(rec.Items[0].DurationMS+rec.Items[1].DurationMS) / 1000
	if d, err := probeDuration(t, pf); err != nil || d < want-1 || d > want+1 {
		t.Errorf("playback.mp4 lasts %.2f s, want %.2f ± 1: %v", d, want, err)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", pf, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("playback.mp4 does not decode cleanly: %v %s", err, out)
	}
	if st, _, part := n.Do("GET", "/v1/devices/rec-1/channels/1/playback.mp4?"+q, "", "", "Range", "bytes=1000-1999"); st != 206 || string(part) != string(mp4[1000:2000]) {
		t.Errorf("playback.mp4 range: %d", st)
	}
	// HLS VOD: a player with no headers follows the playlist's tokened URIs.
	// A live token opens no recording; a playback token of the range does.
	live := strings.SplitN(liveURLs(t, n, "rec-1", 1, "").RTSP, "token=", 2)[1]
	if st, _, body := n.Do("GET", "/v1/devices/rec-1/channels/1/playback.m3u8?"+q+"&token="+live, "-", ""); st != 403 {
		t.Errorf("a live token on playback: %d %s", st, body)
	}
	st, _, body = n.Do("GET", "/v1/devices/rec-1/channels/1/playback?"+q, "", "")
	if st != 200 {
		t.Fatalf("playback URLs: %d %s", st, body)
	}
	tok := url.QueryEscape(decode[struct {
		Token string `json:"token"`
	}](t, body).Token)
	st, _, m3u8 := n.Do("GET", "/v1/devices/rec-1/channels/1/playback.m3u8?"+q+"&token="+tok, "-", "")
	if st != 200 || !strings.Contains(string(m3u8), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(string(m3u8), "token=") {
		t.Fatalf("playback.m3u8: %d %s", st, m3u8)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", n.HTTP+"/v1/devices/rec-1/channels/1/playback.m3u8?"+q+"&token="+tok, "-f", "null", "-").CombinedOutput(); err != nil {
		t.Errorf("ffmpeg cannot play the VOD playlist: %v %s", err, out)
	}
	if st, _, _ := n.Do("GET", "/v1/devices/rec-1/channels/1/playback.mp4?"+q+"&token=forged", "-", ""); st != 403 {
		t.Errorf("forged token on playback: %d", st)
	}

	// kill -9 mid-segment → restart → recording resumes; nothing unplayable on disk.
	n.Kill()
	n.Restart()
	waitFor(t, "recording after restart", 15*time.Second, func() bool {
		_, _, b := n.Do("GET", "/v1/devices/rec-1/channels/1/plan", "", "")
		return decode[planJSON](t, b).Recording
	})
	time.Sleep(12 * time.Second)
	mp4s, partials := recordedFiles(t, filepath.Join(n.Data, "recordings"))
	if len(mp4s) < 3 {
		t.Errorf("%d segments on disk after restart", len(mp4s))
	}
	for _, f := range mp4s {
		if d, err := probeDuration(t, f); err != nil || d <= 0 {
			t.Errorf("unplayable segment %s: %v", f, err)
		}
	}
	// Only the segment being written now may be partial.
	if len(partials) > 1 {
		t.Errorf("partial files left behind: %v", partials)
	}

	// Off: recording stops, the stream is released when idle.
	n.Do("PUT", "/v1/devices/rec-1/channels/1/plan", "", `{"mode":"off"}`)
	waitFor(t, "recording off", 10*time.Second, func() bool {
		_, _, b := n.Do("GET", "/v1/devices/rec-1/channels/1/plan", "", "")
		return !decode[planJSON](t, b).Recording
	})
	waitFor(t, "stream released", 10*time.Second, func() bool { return len(streams(t, n).Items) == 0 })
	_, _, hist := n.Do("GET", "/v1/devices/rec-1/events", "", "")
	_ = hist
}

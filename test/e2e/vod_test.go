package e2e

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

var tusClientDir = filepath.Join("testdata", "tus-client")

// tusClient runs the independent tus client (tus-js-client) and returns
// its one JSON line.
func tusClient(t *testing.T, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command("node", append([]string{"upload.mjs"}, args...)...)
	cmd.Dir = tusClientDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tus client %v: %v %s", args[0], err, out)
	}
	var got map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &got) == nil {
			break
		}
	}
	if got == nil || got["error"] != nil {
		t.Fatalf("tus client %v: %s", args[0], out)
	}
	return got
}

type vodJSON struct {
	ID         string   `json:"id"`
	State      string   `json:"state"`
	Bytes      int64    `json:"bytes"`
	Received   int64    `json:"received"`
	DurationMS int64    `json:"duration_ms"`
	Renditions []string `json:"renditions"`
	HLSURL     *string  `json:"hls_url"`
	Error      string   `json:"error"`
	Metadata   map[string]string
}

// TestVODUpload: a tus upload (tus-js-client) stopped halfway resumes from
// the offset HEAD gives; the finished upload is transcoded to an HLS ladder
// on a worker slot, its signed hls_url plays with ffprobe; the lowest
// rendition is published before the next; bad uploads are 4xx naming the
// header or id.
func TestVODUpload(t *testing.T) {
	testenv.NeedFFmpeg(t, "VOD uploads")
	testenv.NeedNode(t, "the tus client")
	testenv.NPMCI(t, tusClientDir, "tus-js-client")
	ch := testenv.ClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--upload-max-size", "20000000"}})
	src := filepath.Join(t.TempDir(), "talk.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k", "-c:a", "aac", "-movflags", "+faststart", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}

	started := tusClient(t, "start", n.HTTP, n.AdminKey, src, "0.5")
	url, _ := started["url"].(string)
	if !strings.Contains(url, "/v1/uploads/up-") {
		t.Fatalf("Location %q", url)
	}
	id := url[strings.LastIndex(url, "/")+1:]
	st, hdr, body := n.Do("HEAD", "/v1/uploads/"+id, "", "", "Tus-Resumable", "1.0.0")
	offset, _ := strconv.ParseInt(hdr.Get("Upload-Offset"), 10, 64)
	size, _ := strconv.ParseInt(hdr.Get("Upload-Length"), 10, 64)
	if st != 200 || offset <= 0 || offset >= size {
		t.Fatalf("HEAD after the stop: %d offset %d of %d %s", st, offset, size, body)
	}
	st, _, body = n.Do("GET", "/v1/vod/"+id, "", "")
	if v := decode[vodJSON](t, body); st != 200 || v.State != "uploading" || v.Received != offset || v.HLSURL != nil {
		t.Fatalf("vod while uploading: %d %s", st, body)
	}
	resumed := tusClient(t, "resume", url, n.AdminKey, src)
	if first, _ := resumed["first"].(float64); int64(first) < offset {
		t.Errorf("the resumed upload started at %v, below the offset %d HEAD gave: it did not resume", first, offset)
	}

	// Transcoded on the node's slots; playable as soon as a rendition is.
	var v vodJSON
	sawPartial := false
	waitFor(t, "the VOD ready", 120*time.Second, func() bool {
		st, _, body := n.Do("GET", "/v1/vod/"+id, "", "")
		if st != 200 {
			t.Fatalf("vod: %d %s", st, body)
		}
		v = decode[vodJSON](t, body)
		if v.State == "processing" && v.HLSURL != nil {
			sawPartial = true
			if len(v.Renditions) != 1 || v.Renditions[0] != "360p" {
				t.Errorf("partial ladder %v, want the lowest rung first", v.Renditions)
			}
		}
		return v.State == "ready" || v.State == "failed"
	})
	if v.State != "ready" || v.HLSURL == nil || !slices.Equal(v.Renditions, []string{"360p", "720p"}) {
		t.Fatalf("vod: %+v", v)
	}
	t.Logf("a playable partial ladder was seen while processing: %v", sawPartial)
	if v.DurationMS < 9000 || v.DurationMS > 11000 {
		t.Errorf("duration %d ms, want ≈ 10 s", v.DurationMS)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "json", n.HTTP+*v.HLSURL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"h264"`) || !strings.Contains(string(out), `"aac"`) {
		t.Fatalf("ffprobe the VOD: %v %s", err, out)
	}
	if st, _, _ := n.Do("GET", strings.Replace(*v.HLSURL, "token=", "token=x", 1), "-", ""); st != 401 {
		t.Errorf("a bad token: %d", st)
	}
	waitFor(t, "the VOD listed", 30*time.Second, func() bool {
		st, _, body := n.Do("GET", "/v1/vod", "", "")
		var l struct {
			Items []vodJSON `json:"items"`
		}
		return st == 200 && json.Unmarshal(body, &l) == nil && slices.ContainsFunc(l.Items, func(x vodJSON) bool { return x.ID == id && x.State == "ready" })
	})

	// Bad uploads.
	st, hdr, body = n.Do("POST", "/v1/uploads/", "", "", "Tus-Resumable", "1.0.0", "Upload-Length", "30000000")
	expectProblem(t, "oversized upload", st, hdr, body, 413, "Upload-Length")
	st, hdr, body = n.Do("POST", "/v1/uploads/", "", "", "Tus-Resumable", "1.0.0")
	expectProblem(t, "no Upload-Length", st, hdr, body, 400, "Upload-Length")
	st, hdr, body = n.Do("PATCH", "/v1/uploads/up-none", "", "", "Tus-Resumable", "1.0.0", "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	expectProblem(t, "unknown upload", st, hdr, body, 404, "id")
	st, hdr, body = n.Do("GET", "/v1/vod/up-none", "", "")
	expectProblem(t, "unknown vod", st, hdr, body, 404, "id")
	st, hdr, body = n.Do("POST", "/v1/tasks", "", `{"type":"transcode","source":"up-none"}`)
	expectProblem(t, "transcode of an unknown upload", st, hdr, body, 404, "source")
	key, _ := newKey(t, n, "viewer")
	st, hdr, body = n.Do("POST", "/v1/uploads/", key, "", "Tus-Resumable", "1.0.0", "Upload-Length", "10")
	expectProblem(t, "a viewer uploads", st, hdr, body, 403, "")
}

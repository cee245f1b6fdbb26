package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// taskJSON is a task as the API shows it.
type taskJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	State      string     `json:"state"`
	Progress   float64    `json:"progress"`
	Worker     string     `json:"worker"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      string     `json:"error"`
	DeadLetter bool       `json:"dead_letter"`
	CreatedBy  string     `json:"created_by"`
	Queue      string     `json:"queue"`
	Result     *struct {
		Key         string   `json:"key"`
		URL         string   `json:"url"`
		Bytes       int64    `json:"bytes"`
		DurationMS  int64    `json:"duration_ms"`
		ContentType string   `json:"content_type"`
		Files       []string `json:"files"`
	} `json:"result"`
	CallbackSecret string `json:"callback_secret"`
}

type workersJSON struct {
	Items []struct {
		ID             string   `json:"id"`
		Group          string   `json:"group"`
		Slots          int      `json:"slots"`
		OnlineSlots    int      `json:"online_slots"`
		Running        int      `json:"running"`
		RunningOffline int      `json:"running_offline"`
		Tasks          []string `json:"tasks"`
	} `json:"items"`
	Groups []struct {
		Group          string `json:"group"`
		OnlineWaiting  int    `json:"online_waiting"`
		OfflineWaiting int    `json:"offline_waiting"`
		Backlog        int    `json:"backlog"`
	} `json:"groups"`
}

// recordingNode is a dev node with its NATS on a known port, no slots of
// its own (the tests' workers run the tasks), and a camera recorded
// continuously in 10 s segments for at least rec.
func recordingNode(t *testing.T, dev string, rec time.Duration, o testenv.NodeOptions) (*testenv.Node, time.Time) {
	t.Helper()
	return recordingNodeCam(t, dev, rec, fakecam.Options{}, o)
}

// recordingNodeCam is recordingNode with a camera of cam's options.
func recordingNodeCam(t *testing.T, dev string, rec time.Duration, camOpts fakecam.Options, o testenv.NodeOptions) (*testenv.Node, time.Time) {
	t.Helper()
	camOpts.Paths = []string{dev}
	cam := startCam(t, camOpts)
	o.NATS, o.Args = true, append([]string{"--worker-slots", "0", "--task-lease", "3s"}, o.Args...)
	n := testenv.StartDev(t, o)
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"`+dev+`","name":"cam","url":"rtsp://`+cam.Addr()+`/`+dev+`"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, _, body := n.Do("PUT", "/v1/devices/"+dev+"/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		t.Fatalf("plan: %d %s", st, body)
	}
	start := time.Now()
	waitFor(t, "recordings", rec+30*time.Second, func() bool {
		st, _, b := n.Do("GET", "/v1/recordings?device="+dev+"&channel=1&from="+start.Add(-time.Minute).UTC().Format(time.RFC3339), "", "")
		if st != 200 {
			return false
		}
		r := decode[recordingsJSON](t, b)
		if len(r.Items) == 0 {
			return false
		}
		first, _ := time.Parse(time.RFC3339Nano, r.Items[0].Start)
		last, _ := time.Parse(time.RFC3339Nano, r.Items[len(r.Items)-1].End)
		start = first
		return last.Sub(first) >= rec
	})
	return n, start
}

func submitTask(t *testing.T, n *testenv.Node, key, body string) taskJSON {
	t.Helper()
	st, _, b := n.Do("POST", "/v1/tasks", key, body)
	if st != 202 {
		t.Fatalf("submit %s: %d %s", body, st, b)
	}
	return decode[taskJSON](t, b)
}

func getTask(t *testing.T, n *testenv.Node, id string) taskJSON {
	t.Helper()
	st, _, b := n.Do("GET", "/v1/tasks/"+id, "", "")
	if st != 200 {
		t.Fatalf("get task %s: %d %s", id, st, b)
	}
	return decode[taskJSON](t, b)
}

func waitTask(t *testing.T, n *testenv.Node, id string, d time.Duration, ok func(taskJSON) bool) taskJSON {
	t.Helper()
	var last taskJSON
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if last = getTask(t, n, id); ok(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("task %s: still %+v after %v", id, last, d)
	return last
}

func workers(t *testing.T, n *testenv.Node) workersJSON {
	t.Helper()
	st, _, b := n.Do("GET", "/v1/workers", "", "")
	if st != 200 {
		t.Fatalf("workers: %d %s", st, b)
	}
	return decode[workersJSON](t, b)
}

// taskResult downloads a task's result into a file.
func taskResult(t *testing.T, n *testenv.Node, tk taskJSON, name string) string {
	t.Helper()
	st, _, b := n.Do("GET", tk.Result.URL, "", "")
	if st != 200 {
		t.Fatalf("result of %s: %d %s", tk.ID, st, b)
	}
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func clipBody(dev string, from, to time.Time, extra string) string {
	return fmt.Sprintf(`{"type":"clip","device":%q,"channel":1,"from":%q,"to":%q%s}`, dev, rfc(from), rfc(to), extra)
}

// longTask is a transcode of the recorded range to the whole ladder: long
// enough on two cores to be caught running.
func longTask(dev string, from, to time.Time, extra string) string {
	return fmt.Sprintf(`{"type":"transcode","device":%q,"channel":1,"from":%q,"to":%q,"params":{"renditions":["1080p","720p","480p","360p"]}%s}`,
		dev, rfc(from), rfc(to), extra)
}

// ffmpegChildren are the ffmpeg processes whose parent is pid.
func ffmpegChildren(pid int) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 || s[open+1:close] != "ffmpeg" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			me, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			out = append(out, me)
		}
	}
	return out
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

type benchTask struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	CreatedBy  string     `json:"created_by"`
	Result     *struct {
		URL string `json:"url"`
	} `json:"result"`
}

type benchWorkers struct {
	Items []struct {
		Slots          int `json:"slots"`
		OnlineSlots    int `json:"online_slots"`
		RunningOffline int `json:"running_offline"`
	} `json:"items"`
	Groups []struct {
		OfflineWaiting int `json:"offline_waiting"`
		Backlog        int `json:"backlog"`
	} `json:"groups"`
}

// tasksRig is a node recording one camera and one `argus worker`.
type tasksRig struct {
	b     *testing.B
	n     *testenv.Node
	start time.Time // first recorded instant
}

func newTasksRig(b *testing.B, slots, online int, rec time.Duration) *tasksRig {
	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"tb"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cam.Close)
	n := testenv.StartDev(b, testenv.NodeOptions{NATS: true, Args: []string{"--worker-slots", "0"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"tb","name":"cam","url":"rtsp://`+cam.Addr()+`/tb"}`); st != 201 {
		b.Fatalf("device: %d %s", st, body)
	}
	if st, _, body := n.Do("PUT", "/v1/devices/tb/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		b.Fatalf("plan: %d %s", st, body)
	}
	r := &tasksRig{b: b, n: n}
	t0 := time.Now()
	for time.Since(t0) < rec+40*time.Second {
		st, _, body := n.Do("GET", "/v1/recordings?device=tb&channel=1&from="+t0.Add(-time.Minute).UTC().Format(time.RFC3339), "", "")
		var l struct {
			Items []struct{ Start, End time.Time } `json:"items"`
		}
		if st == 200 && json.Unmarshal(body, &l) == nil && len(l.Items) > 0 && l.Items[len(l.Items)-1].End.Sub(l.Items[0].Start) >= rec {
			r.start = l.Items[0].Start
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if r.start.IsZero() {
		b.Fatal("no recordings")
	}
	testenv.StartWorker(b, n, testenv.WorkerOptions{ID: "wk", Slots: slots, OnlineSlots: online})
	for deadline := time.Now().Add(15 * time.Second); len(r.workers().Items) == 0; {
		if time.Now().After(deadline) {
			b.Fatal("the worker did not register")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r
}

func (r *tasksRig) submit(key, body string) benchTask {
	st, _, b := r.n.Do("POST", "/v1/tasks", key, body)
	var t benchTask
	if st != 202 || json.Unmarshal(b, &t) != nil {
		r.b.Fatalf("submit: %d %s", st, b)
	}
	return t
}

func (r *tasksRig) get(id string) benchTask {
	st, _, b := r.n.Do("GET", "/v1/tasks/"+id, "", "")
	var t benchTask
	if st != 200 || json.Unmarshal(b, &t) != nil {
		r.b.Fatalf("get: %d %s", st, b)
	}
	return t
}

func (r *tasksRig) wait(id string, d time.Duration, state ...string) benchTask {
	deadline := time.Now().Add(d)
	for {
		t := r.get(id)
		for _, s := range state {
			if t.State == s {
				return t
			}
		}
		if time.Now().After(deadline) {
			r.b.Fatalf("task %s still %s", id, t.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *tasksRig) workers() benchWorkers {
	st, _, b := r.n.Do("GET", "/v1/workers", "", "")
	var w benchWorkers
	if st != 200 || json.Unmarshal(b, &w) != nil {
		r.b.Fatalf("workers: %d %s", st, b)
	}
	return w
}

func (r *tasksRig) clip(from time.Duration, length time.Duration, extra string) string {
	f, t := r.start.Add(from), r.start.Add(from+length)
	return fmt.Sprintf(`{"type":"clip","device":"tb","channel":1,"from":%q,"to":%q%s}`, f.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano), extra)
}

func (r *tasksRig) snapshot(at time.Duration) string {
	return fmt.Sprintf(`{"type":"snapshot","device":"tb","channel":1,"from":%q}`, r.start.Add(at).UTC().Format(time.RFC3339Nano))
}

// onlineLatency submits snapshots one after the other and returns submit →
// running of each.
func (r *tasksRig) onlineLatency(runs int) []time.Duration {
	var out []time.Duration
	for i := range runs {
		t := r.submit("", r.snapshot(time.Duration(1+i%15)*time.Second))
		done := r.wait(t.ID, 30*time.Second, "succeeded", "failed")
		if done.StartedAt == nil {
			r.b.Fatalf("snapshot %s: %+v", t.ID, done)
		}
		out = append(out, done.StartedAt.Sub(done.CreatedAt))
	}
	return out
}

// BenchmarkTasks: online scheduling latency with the offline queue
// saturated (vs an idle one), slot utilisation with a backlog, clip export
// speed (vs ffmpeg copying the same file), and the fair share between two
// keys (vs first-come first-served).
func BenchmarkTasks(b *testing.B) {
	testenv.NeedFFmpeg(b, "the tasks benchmark")
	r := newTasksRig(b, 4, 1, 30*time.Second)

	// Online latency, idle and behind a saturated offline queue.
	idle := r.onlineLatency(30)
	var backlog []string
	for i := range 40 {
		backlog = append(backlog, r.submit("", r.clip(time.Duration(i%10)*time.Second, 15*time.Second, `,"params":{"timestamp":true}`)).ID)
	}
	time.Sleep(2 * time.Second)
	loaded := r.onlineLatency(30)
	p := func(d []time.Duration, q float64) time.Duration {
		return percentile(append([]time.Duration(nil), d...), q)
	}
	results.add("online task submit → running p50 / p99, offline queue saturated", ms(p(loaded, .5))+" / "+ms(p(loaded, .99)),
		"idle queue "+ms(p(idle, .5))+" / "+ms(p(idle, .99)), fmt.Sprintf("%.2f× p99", float64(p(loaded, .99))/float64(max(p(idle, .99), time.Millisecond))), "p99 ≤ 200 ms")

	// Utilisation of the offline slots while the backlog lasts.
	var busy, capacity float64
	for {
		w := r.workers()
		waiting := 0
		for _, g := range w.Groups {
			waiting += g.OfflineWaiting + g.Backlog
		}
		if waiting == 0 || len(w.Items) == 0 {
			break
		}
		busy += float64(w.Items[0].RunningOffline)
		capacity += float64(w.Items[0].Slots - w.Items[0].OnlineSlots)
		time.Sleep(100 * time.Millisecond)
	}
	var jobTime time.Duration
	var first, last time.Time
	for _, id := range backlog {
		t := r.wait(id, 5*time.Minute, "succeeded", "failed")
		if t.StartedAt == nil || t.FinishedAt == nil {
			continue
		}
		jobTime += t.FinishedAt.Sub(*t.StartedAt)
		if first.IsZero() || t.StartedAt.Before(first) {
			first = *t.StartedAt
		}
		if t.FinishedAt.After(last) {
			last = *t.FinishedAt
		}
	}
	byJobs := jobTime.Seconds() / (3 * last.Sub(first).Seconds())
	results.add("offline slot utilisation with a backlog (sampled running / slots)", fmt.Sprintf("%.1f %%", 100*busy/max(capacity, 1)),
		fmt.Sprintf("Σ attempt time / (slots × span) %.1f %%", 100*byJobs), fmt.Sprintf("%.2f", busy/max(capacity, 1)/max(byJobs, 0.01)), "≥ 90 %")

	// Clip export speed: stream copy and timestamped re-encode of 20 s.
	speed := func(extra string) (float64, string) {
		t := r.wait(r.submit("", r.clip(2*time.Second, 20*time.Second, extra)).ID, 2*time.Minute, "succeeded")
		st, _, body := r.n.Do("GET", t.Result.URL, "", "")
		if st != 200 {
			b.Fatalf("result: %d", st)
		}
		f := filepath.Join(b.TempDir(), t.ID+".mp4")
		os.WriteFile(f, body, 0o644)
		return 20 / t.FinishedAt.Sub(*t.StartedAt).Seconds(), f
	}
	copySpeed, f := speed("")
	encSpeed, _ := speed(`,"params":{"timestamp":true}`)
	t0 := time.Now()
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", f, "-c", "copy", "-movflags", "+faststart", filepath.Join(b.TempDir(), "copy.mp4")).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	ffCopy := 20 / time.Since(t0).Seconds()
	results.add("clip export (20 s, stream copy), × real time", fmt.Sprintf("%.0f×", copySpeed), fmt.Sprintf("ffmpeg copy of the clip alone %.0f×", ffCopy),
		fmt.Sprintf("%.2f", copySpeed/ffCopy), "(measured)")
	results.add("clip export (20 s, timestamp burned in), × real time", fmt.Sprintf("%.1f×", encSpeed), fmt.Sprintf("stream copy %.0f×", copySpeed),
		fmt.Sprintf("%.3f", encSpeed/copySpeed), "(measured)")

	// Fair share: key A submits 30, then key B 10 (short copies); while
	// both wait, the share of starts each gets.
	keyA, keyB := benchKey(b, r.n), benchKey(b, r.n)
	var ids []string
	for i := range 30 {
		ids = append(ids, r.submit(keyA, r.clip(time.Duration(i%10)*time.Second, 4*time.Second, "")).ID)
	}
	for i := range 10 {
		ids = append(ids, r.submit(keyB, r.clip(time.Duration(i%10)*time.Second, 4*time.Second, "")).ID)
	}
	type start struct {
		at time.Time
		b  bool
	}
	var starts []start
	for i, id := range ids {
		t := r.wait(id, 5*time.Minute, "succeeded")
		starts = append(starts, start{*t.StartedAt, i >= 30})
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	// From B's first start to its last: the share of starts that were B's.
	firstB, lastB := -1, -1
	for i, s := range starts {
		if s.b {
			if firstB < 0 {
				firstB = i
			}
			lastB = i
		}
	}
	inB := lastB - firstB + 1
	ratio := float64(10) / float64(inB-10) // B's starts per A start while both waited
	results.add("fair share: key B's starts per key A start while both wait (A: 30 first, B: 10)", fmt.Sprintf("%.2f", ratio),
		fmt.Sprintf("first come first served: 0 (B's first start #%d of 40 → #31)", firstB+1), fmt.Sprintf("B's last start #%d", lastB+1), "1.0")
}

func benchKey(b *testing.B, n *testenv.Node) string {
	st, _, body := n.Do("POST", "/v1/keys", "", `{"name":"k","role":"operator"}`)
	var k struct {
		Key string `json:"key"`
	}
	if st != 201 || json.Unmarshal(body, &k) != nil {
		b.Fatalf("key: %d %s", st, body)
	}
	return k.Key
}

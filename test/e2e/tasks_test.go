package e2e

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// TestClipTasksOnTwoWorkers: two `argus worker` processes with 2 slots
// each run 10 clip exports: never more than 2 at once on a worker
// (sampled), all succeed, each plays with ffprobe and lasts its range ± 1 s.
func TestClipTasksOnTwoWorkers(t *testing.T) {
	testenv.NeedFFmpeg(t, "clip tasks")
	n, start := recordingNode(t, "tclip", 24*time.Second, testenv.NodeOptions{})
	for _, id := range []string{"wa", "wb"} {
		testenv.StartWorker(t, n, testenv.WorkerOptions{ID: id, Slots: 2, OnlineSlots: 0})
	}
	waitFor(t, "two workers registered", 15*time.Second, func() bool { return len(workers(t, n).Items) == 2 })

	var stop sync.WaitGroup
	done := make(chan struct{})
	maxRunning := map[string]int{}
	var mu sync.Mutex
	stop.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, w := range workers(t, n).Items {
				mu.Lock()
				maxRunning[w.ID] = max(maxRunning[w.ID], w.Running, len(w.Tasks))
				mu.Unlock()
			}
		}
	})
	var tasks []taskJSON
	ranges := map[string]time.Duration{}
	for i := range 10 {
		from := start.Add(time.Duration(1+i) * time.Second)
		length := time.Duration(4+i%3) * time.Second
		tk := submitTask(t, n, "", clipBody("tclip", from, from.Add(length), `,"params":{"timestamp":true}`))
		if tk.State != "queued" || tk.Type != "clip" {
			t.Fatalf("submitted: %+v", tk)
		}
		tasks = append(tasks, tk)
		ranges[tk.ID] = length
	}
	for _, tk := range tasks {
		got := waitTask(t, n, tk.ID, 90*time.Second, func(x taskJSON) bool { return x.State == "succeeded" || x.State == "failed" })
		if got.State != "succeeded" || got.Result == nil || got.Result.ContentType != "video/mp4" {
			t.Fatalf("task %s: %+v", tk.ID, got)
		}
		if got.Worker != "wa" && got.Worker != "wb" {
			t.Errorf("task %s ran on %q", tk.ID, got.Worker)
		}
		f := taskResult(t, n, got, tk.ID+".mp4")
		d, err := probeDuration(t, f)
		if err != nil || math.Abs(d-ranges[tk.ID].Seconds()) > 1 {
			t.Errorf("clip %s lasts %.2f s (%v), want %v ± 1 s", tk.ID, d, err, ranges[tk.ID])
		}
	}
	close(done)
	stop.Wait()
	for id, m := range maxRunning {
		if m > 2 {
			t.Errorf("worker %s ran %d tasks at once, has 2 slots", id, m)
		}
	}
	if len(maxRunning) != 2 || maxRunning["wa"] == 0 || maxRunning["wb"] == 0 {
		t.Errorf("both workers should have run tasks: %v", maxRunning)
	}
}

// TestTaskLeaseAndCancel: kill -9 of the worker running a task → the task
// completes on another worker after the lease, its attempts counted; a
// cancel stops the task's ffmpeg at once.
func TestTaskLeaseAndCancel(t *testing.T) {
	testenv.NeedFFmpeg(t, "task leases")
	n, start := recordingNode(t, "tlease", 20*time.Second, testenv.NodeOptions{})
	a := testenv.StartWorker(t, n, testenv.WorkerOptions{ID: "wa", Slots: 2, OnlineSlots: 1})
	tk := submitTask(t, n, "", longTask("tlease", start, start.Add(20*time.Second), ""))
	running := waitTask(t, n, tk.ID, 30*time.Second, func(x taskJSON) bool { return x.State == "running" })
	if running.Worker != "wa" || running.Attempts != 1 {
		t.Fatalf("running: %+v", running)
	}
	waitFor(t, "ffmpeg running on wa", 10*time.Second, func() bool { return len(ffmpegChildren(a.Pid())) > 0 })
	a.Kill()
	b := testenv.StartWorker(t, n, testenv.WorkerOptions{ID: "wb", Slots: 2, OnlineSlots: 1})
	done := waitTask(t, n, tk.ID, 90*time.Second, func(x taskJSON) bool { return x.State == "succeeded" || x.State == "failed" })
	if done.State != "succeeded" || done.Worker != "wb" || done.Attempts != 2 {
		t.Fatalf("after the kill: %+v", done)
	}
	if done.Result == nil || len(done.Result.Files) < 5 {
		t.Fatalf("transcode result: %+v", done.Result)
	}

	// Cancel while ffmpeg runs: the process is gone within 2 s, the slot free.
	tk = submitTask(t, n, "", longTask("tlease", start, start.Add(20*time.Second), ""))
	waitTask(t, n, tk.ID, 30*time.Second, func(x taskJSON) bool { return x.State == "running" })
	waitFor(t, "ffmpeg running on wb", 10*time.Second, func() bool { return len(ffmpegChildren(b.Pid())) > 0 })
	st, _, body := n.Do("POST", "/v1/tasks/"+tk.ID+"/cancel", "", "")
	if st != 200 || decode[taskJSON](t, body).State != "canceled" {
		t.Fatalf("cancel: %d %s", st, body)
	}
	canceledAt := time.Now()
	waitFor(t, "ffmpeg stopped", 2*time.Second, func() bool { return len(ffmpegChildren(b.Pid())) == 0 })
	t.Logf("ffmpeg gone %v after the cancel", time.Since(canceledAt))
	waitFor(t, "the slot free", 5*time.Second, func() bool {
		w := workers(t, n).Items
		return len(w) == 1 && w[0].Running == 0
	})
	if st, hdr, body := n.Do("POST", "/v1/tasks/"+tk.ID+"/cancel", "", ""); st != 409 {
		expectProblem(t, "cancel twice", st, hdr, body, 409, "state")
	}
	if got := getTask(t, n, tk.ID); got.State != "canceled" || got.Result != nil {
		t.Errorf("canceled task: %+v", got)
	}
}

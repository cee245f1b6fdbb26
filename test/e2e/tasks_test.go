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
	n, start := recordingNode(t, "tclip", 24*time.Second)
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

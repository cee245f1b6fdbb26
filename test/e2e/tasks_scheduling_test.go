package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// TestTaskScheduling: a snapshot submitted behind a full offline backlog
// starts within 1 s (online queue, reserved slot); offline tasks of two
// keys share the slots fairly (the key with 2 tasks does not wait for the
// 8 of the other).
func TestTaskScheduling(t *testing.T) {
	testenv.NeedFFmpeg(t, "task scheduling")
	n, start := recordingNode(t, "tsched", 20*time.Second, testenv.NodeOptions{})
	testenv.StartWorker(t, n, testenv.WorkerOptions{ID: "w1", Slots: 2, OnlineSlots: 1})
	waitFor(t, "the worker registered", 15*time.Second, func() bool { return len(workers(t, n).Items) == 1 })

	// A full offline backlog, then a snapshot.
	var backlog []taskJSON
	for range 4 {
		backlog = append(backlog, submitTask(t, n, "", longTask("tsched", start, start.Add(20*time.Second), "")))
	}
	waitTask(t, n, backlog[0].ID, 30*time.Second, func(x taskJSON) bool { return x.State == "running" })
	snap := submitTask(t, n, "", `{"type":"snapshot","device":"tsched","channel":1,"from":"`+rfc(start.Add(5*time.Second))+`","params":{"width":320}}`)
	if snap.Queue != "online" {
		t.Fatalf("snapshot queue: %+v", snap)
	}
	got := waitTask(t, n, snap.ID, 20*time.Second, func(x taskJSON) bool { return x.State == "succeeded" || x.State == "failed" })
	if got.State != "succeeded" || got.Result.ContentType != "image/jpeg" {
		t.Fatalf("snapshot: %+v", got)
	}
	if wait := got.StartedAt.Sub(got.CreatedAt); wait > time.Second {
		t.Errorf("the snapshot started %v after its submission behind the backlog, want ≤ 1 s", wait)
	} else {
		t.Logf("snapshot: submit → running %v with %d offline tasks ahead", wait, len(backlog))
	}
	st, hdr, jpeg := n.Do("GET", got.Result.URL, "", "")
	if w, h := jpegSize(t, "snapshot", st, hdr, jpeg); w != 320 || h < 100 {
		t.Errorf("snapshot %dx%d, want width 320", w, h)
	}
	for _, tk := range backlog {
		if st, _, b := n.Do("POST", "/v1/tasks/"+tk.ID+"/cancel", "", ""); st != 200 && st != 409 {
			t.Fatalf("cancel backlog: %d %s", st, b)
		}
	}

	// Fair share: key A submits 8, then key B 2; one offline slot.
	keyA, _ := newKey(t, n, "operator")
	keyB, _ := newKey(t, n, "operator")
	var as, bs []string
	for i := range 8 {
		from := start.Add(time.Duration(i) * time.Second)
		as = append(as, submitTask(t, n, keyA, clipBody("tsched", from, from.Add(4*time.Second), "")).ID)
	}
	for i := range 2 {
		from := start.Add(time.Duration(i) * time.Second)
		bs = append(bs, submitTask(t, n, keyB, clipBody("tsched", from, from.Add(4*time.Second), "")).ID)
	}
	started := map[string]time.Time{}
	for _, id := range append(slices.Clone(as), bs...) {
		tk := waitTask(t, n, id, 90*time.Second, func(x taskJSON) bool { return x.State == "succeeded" })
		started[id] = *tk.StartedAt
		if tk.CreatedBy == "" {
			t.Errorf("task %s without created_by", id)
		}
	}
	lastB := started[bs[0]]
	if started[bs[1]].After(lastB) {
		lastB = started[bs[1]]
	}
	before := 0
	for _, id := range as {
		if started[id].Before(lastB) {
			before++
		}
	}
	t.Logf("fair share: %d of key A's 8 tasks started before key B's last", before)
	if before > 5 {
		t.Errorf("%d of key A's 8 tasks started before key B's 2nd (submitted after all of A's): no fair share", before)
	}
}

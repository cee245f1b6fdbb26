package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// TestTaskCallbacksHistoryAndBadInput: a task's callback_url receives every
// step, signed (verified by an independent Standard Webhooks receiver);
// the history lists finished tasks from ClickHouse and live ones from the
// actors; bad input is a 4xx naming the field.
func TestTaskCallbacksHistoryAndBadInput(t *testing.T) {
	testenv.NeedFFmpeg(t, "task callbacks")
	ch := testenv.ClickHouse(t)
	n, start := recordingNode(t, "tapi", 12*time.Second, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--webhook-allow-private"}})
	testenv.StartWorker(t, n, testenv.WorkerOptions{ID: "w1", Slots: 2, OnlineSlots: 1})

	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rcv := startReceiver(t, secret)
	tk := submitTask(t, n, "", clipBody("tapi", start.Add(time.Second), start.Add(6*time.Second),
		`,"callback_url":"`+rcv.url()+`","callback_secret":"`+secret+`"`))
	if tk.CallbackSecret != "" {
		t.Errorf("a given callback secret is echoed: %+v", tk)
	}
	done := waitTask(t, n, tk.ID, 60*time.Second, func(x taskJSON) bool { return x.State == "succeeded" })
	var types []string
	waitFor(t, "the callbacks up to task.succeeded", 20*time.Second, func() bool {
		types = types[:0]
		for _, d := range rcv.deliveries() {
			if !d.Verified {
				t.Fatalf("a callback failed verification: %+v", d)
			}
			types = append(types, d.Type)
		}
		return slices.Contains(types, "task.succeeded")
	})
	if types[0] != "task.submitted" || !slices.Contains(types, "task.started") || types[len(types)-1] != "task.succeeded" {
		t.Errorf("callbacks %v, want task.submitted … task.started … task.succeeded", types)
	}
	// A callback without a secret gets one made, shown once.
	made := submitTask(t, n, "", clipBody("tapi", start.Add(time.Second), start.Add(3*time.Second), `,"callback_url":"`+rcv.url()+`"`))
	if len(made.CallbackSecret) < 20 || getTask(t, n, made.ID).CallbackSecret != "" {
		t.Errorf("made callback secret: %q", made.CallbackSecret)
	}

	// History: the finished task in ClickHouse, with its result.
	var page struct {
		Items []taskJSON `json:"items"`
	}
	waitFor(t, "the task in the history", 30*time.Second, func() bool {
		st, _, b := n.Do("GET", "/v1/tasks?state=succeeded&device=tapi", "", "")
		if st != 200 {
			t.Fatalf("history: %d %s", st, b)
		}
		page = decode[struct {
			Items []taskJSON `json:"items"`
		}](t, b)
		return slices.ContainsFunc(page.Items, func(x taskJSON) bool { return x.ID == done.ID && x.Result != nil })
	})
	if st, _, b := n.Do("GET", "/v1/tasks?state=queued", "", ""); st != 200 {
		t.Errorf("live tasks: %d %s", st, b)
	}
	// The task's events are in the log.
	st, _, b := n.Do("GET", "/v1/events?kind=task&aggregate="+done.ID, "", "")
	if st != 200 {
		t.Fatalf("events: %d %s", st, b)
	}

	// Bad input: 4xx naming the field.
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"type":"render","device":"tapi"}`, 400, "type"},
		{`{"device":"tapi"}`, 400, "type"},
		{clipBody("tapi", start.Add(5*time.Second), start.Add(5*time.Second), ""), 400, "to"},
		{clipBody("tapi", start.Add(5*time.Second), start.Add(2*time.Second), ""), 400, "to"},
		{clipBody("tapi", start.Add(-2*time.Hour), start.Add(-time.Hour), ""), 422, "from"},
		{clipBody("nobody", start, start.Add(time.Second), ""), 404, "device"},
		{`{"type":"clip","device":"tapi","channel":3,"from":"` + rfc(start) + `","to":"` + rfc(start.Add(time.Second)) + `"}`, 404, "channel"},
		{`{"type":"transcode","source":"up-nope"}`, 404, "source"},
		{clipBody("tapi", start, start.Add(time.Second), `,"priority":12`), 400, "priority"},
		{`{"type":"timelapse","device":"tapi","from":"` + rfc(start) + `","to":"` + rfc(start.Add(9*time.Second)) + `","params":{"speed":1}}`, 400, "params.speed"},
		{clipBody("tapi", start, start.Add(time.Second), `,"params":{"renditions":["4k"]}`), 400, "params.renditions"},
		{clipBody("tapi", start, start.Add(time.Second), `,"callback_url":"ftp://x"`), 400, "callback_url"},
		{clipBody("tapi", start, start.Add(time.Second), `,"group":"Bad Group"`), 400, "group"},
		{`{"type":"clip","device":"tapi","from":"yesterday"}`, 400, "from"},
	} {
		st, hdr, body := n.Do("POST", "/v1/tasks", "", c.body)
		expectProblem(t, c.body, st, hdr, body, c.status, c.field)
	}
	st, hdr, body := n.Do("GET", "/v1/tasks/tk-none", "", "")
	expectProblem(t, "unknown task", st, hdr, body, 404, "")
	st, hdr, body = n.Do("POST", "/v1/tasks/tk-none/cancel", "", "")
	expectProblem(t, "cancel unknown task", st, hdr, body, 404, "")
	st, hdr, body = n.Do("GET", "/v1/tasks?state=done", "", "")
	expectProblem(t, "bad state", st, hdr, body, 400, "state")
	st, hdr, body = n.Do("GET", "/v1/tasks/"+tk.ID+"/files/x.ts", "", "")
	expectProblem(t, "a file not in the result", st, hdr, body, 404, "")
}

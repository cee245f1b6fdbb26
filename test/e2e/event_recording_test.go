package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// TestEventRecordingPreRoll: an event plan records nothing until an alarm
// of a trigger type; then a segment starting at least the pre-roll before
// the alarm (from the relay's buffer), carrying the alarm's id, ending
// after the post-roll; alarms of other types record nothing.
func TestEventRecordingPreRoll(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"ev1"}})
	n := testenv.StartDev(t, testenv.NodeOptions{})
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"evr-1","name":"gate","url":"rtsp://`+cam.Addr()+`/ev1"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	for _, c := range []struct{ body, field string }{
		{`{"mode":"event","event":{"pre_roll_seconds":31}}`, "event.pre_roll_seconds"},
		{`{"mode":"event","event":{"post_roll_seconds":301}}`, "event.post_roll_seconds"},
		{`{"mode":"event","event":{"triggers":["Door"]}}`, "event.triggers[0]"},
		{`{"mode":"continuous","event":{}}`, "event"},
	} {
		st, hdr, body := n.Do("PUT", "/v1/devices/evr-1/channels/1/plan", "", c.body)
		expectProblem(t, "plan "+c.body, st, hdr, body, 400, c.field)
	}
	if st, _, body := n.Do("PUT", "/v1/devices/evr-1/channels/1/plan", "", `{"mode":"event","segment_seconds":10,"event":{"pre_roll_seconds":4,"post_roll_seconds":3,"triggers":["door"]}}`); st != 200 {
		t.Fatalf("plan: %d %s", st, body)
	}
	time.Sleep(7 * time.Second) // the pre-roll fills
	list := func() recordingsJSON {
		st, _, b := n.Do("GET", "/v1/recordings?device=evr-1&channel=1&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "", "")
		if st != 200 {
			t.Fatalf("recordings: %d %s", st, b)
		}
		return decode[recordingsJSON](t, b)
	}
	if got := list(); len(got.Items) != 0 {
		t.Fatalf("an event plan recorded without an event: %+v", got)
	}
	if st, _, body := n.Do("POST", "/v1/alarms", "", `{"device":"evr-1","channel":1,"type":"glass"}`); st != 201 {
		t.Fatalf("raise glass: %d %s", st, body)
	}
	st, _, body := n.Do("POST", "/v1/alarms", "", `{"device":"evr-1","channel":1,"type":"door"}`)
	if st != 201 {
		t.Fatalf("raise door: %d %s", st, body)
	}
	alarm := decode[struct {
		ID       string    `json:"id"`
		RaisedAt time.Time `json:"raised_at"`
	}](t, body)
	var rec recordingsJSON
	waitFor(t, "the event's segment indexed", 20*time.Second, func() bool { rec = list(); return len(rec.Items) > 0 })
	seg := rec.Items[0]
	start, _ := time.Parse(time.RFC3339Nano, seg.Start)
	end, _ := time.Parse(time.RFC3339Nano, seg.End)
	if before := alarm.RaisedAt.Sub(start); before < 4*time.Second || before > 7*time.Second {
		t.Errorf("the segment starts %v before the alarm, want the 4 s pre-roll (up to a GOP more)", before)
	}
	if after := end.Sub(alarm.RaisedAt); after < 3*time.Second || after > 6*time.Second {
		t.Errorf("the segment ends %v after the alarm, want the 3 s post-roll", after)
	}
	if !slices.Contains(seg.Alarms, alarm.ID) || slices.ContainsFunc(seg.Alarms, func(id string) bool { return id != alarm.ID }) {
		t.Errorf("segment alarms %v, want [%s]", seg.Alarms, alarm.ID)
	}
	_, _, data := n.Do("GET", seg.URL, "", "")
	f := filepath.Join(t.TempDir(), "ev.mp4")
	os.WriteFile(f, data, 0o644)
	if d, err := probeDuration(t, f); err != nil || d < 6.5 || d > 11 {
		t.Errorf("ffprobe duration %.2f s (%v), want pre-roll + post-roll", d, err)
	}
	// Nothing more without a trigger.
	time.Sleep(2 * time.Second)
	if got := list(); len(got.Items) != 1 {
		t.Errorf("%d segments, want the one event's", len(got.Items))
	}
}

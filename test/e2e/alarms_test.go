package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

type alarmJSON struct {
	ID          string  `json:"id"`
	Device      string  `json:"device"`
	Channel     int     `json:"channel"`
	Type        string  `json:"type"`
	Source      string  `json:"source"`
	Severity    string  `json:"severity"`
	State       string  `json:"state"`
	Active      bool    `json:"active"`
	Count       int     `json:"count"`
	AckedBy     string  `json:"acked_by"`
	ClearedBy   string  `json:"cleared_by"`
	SnapshotURL *string `json:"snapshot_url"`
	Trigger     string  `json:"trigger"`
}

type alarmPage struct {
	Items      []alarmJSON `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// waitAlarm polls a list of alarms until ok holds for one of them.
func waitAlarm(t *testing.T, n *testenv.Node, query string, d time.Duration, ok func(alarmJSON) bool) alarmJSON {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		st, _, body := n.Do("GET", "/v1/alarms?"+query, "", "")
		last = fmt.Sprintf("%d %s", st, body)
		if st == 200 {
			for _, a := range decode[alarmPage](t, body).Items {
				if ok(a) {
					return a
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no such alarm in %s within %v; last answer %s", query, d, last)
	return alarmJSON{}
}

// TestCameraMotionRaisesAlarm: an ONVIF camera's motion becomes an alarm of
// its channel with a picture; the motion's end ends it (still open); the
// next motion repeats it; an acknowledgement and a clear close it.
func TestCameraMotionRaisesAlarm(t *testing.T) {
	_, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	addONVIF(t, n, srv, "alm-cam")
	srv.RaiseMotion("main_1", true)
	a := waitAlarm(t, n, "state=open&device=alm-cam", 3*time.Second, func(a alarmJSON) bool { return a.Type == "motion" })
	if a.ID != "alm-cam~1~motion~1" || a.Channel != 1 || a.Source != "camera" || a.Severity != "minor" || !a.Active || a.State != "raised" || a.Trigger == "" {
		t.Fatalf("motion alarm: %+v", a)
	}
	a = waitAlarm(t, n, "state=open&device=alm-cam", 15*time.Second, func(a alarmJSON) bool { return a.SnapshotURL != nil })
	st, hdr, body := n.Do("GET", *a.SnapshotURL, "", "")
	if w, _ := jpegSize(t, "alarm picture", st, hdr, body); w != 640 {
		t.Fatalf("alarm picture width %d", w)
	}
	srv.RaiseMotion("main_1", false)
	waitAlarm(t, n, "state=raised&device=alm-cam", 3*time.Second, func(a alarmJSON) bool { return a.Type == "motion" && !a.Active })
	srv.RaiseMotion("main_1", true)
	waitAlarm(t, n, "state=raised&device=alm-cam", 3*time.Second, func(a alarmJSON) bool { return a.Type == "motion" && a.Active && a.Count == 2 })

	if st, _, body := n.Do("POST", "/v1/alarms/alm-cam~1~motion~1/ack", "", `{"note":"guard on the way"}`); st != 200 || decode[alarmJSON](t, body).State != "acknowledged" {
		t.Fatalf("ack: %d %s", st, body)
	}
	waitAlarm(t, n, "state=acknowledged", 2*time.Second, func(a alarmJSON) bool { return a.ID == "alm-cam~1~motion~1" && a.AckedBy != "" })
	if st, _, body := n.Do("POST", "/v1/alarms/alm-cam~1~motion~1/clear", "", ""); st != 200 || decode[alarmJSON](t, body).State != "cleared" {
		t.Fatalf("clear: %d %s", st, body)
	}
	if st, _, body := n.Do("GET", "/v1/alarms?state=open&device=alm-cam", "", ""); st != 200 || len(decode[alarmPage](t, body).Items) != 0 {
		t.Fatalf("open alarms after the clear: %d %s", st, body)
	}
	// The next motion is the slot's next alarm.
	srv.RaiseMotion("main_1", false)
	srv.RaiseMotion("main_1", true)
	waitAlarm(t, n, "state=open&device=alm-cam", 3*time.Second, func(a alarmJSON) bool { return a.ID == "alm-cam~1~motion~2" })
}

// TestAlarmAPI: external systems raise alarms; bad bodies are 400 naming the
// field, unknown devices and channels 404 naming them; acknowledgement and
// clear; the history (ClickHouse) keeps older alarms, pages and counts them;
// alarm events are in the log; an offline device raises a system alarm that
// its return clears.
func TestAlarmAPI(t *testing.T) {
	ch := testenv.NewClickHouse(t)
	cam := startCam(t, fakecam.Options{Paths: []string{"a1"}})
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--probe-interval", "1s", "--alarm-offline-after", "2s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"alm-api","name":"door","url":"rtsp://`+cam.Addr()+`/a1","channels":2}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	for _, c := range []struct{ body, field string }{
		{`{"type":"door"}`, "device"},
		{`{"device":"alm-api"}`, "type"},
		{`{"device":"alm-api","type":"Door"}`, "type"},
		{`{"device":"alm-api","type":"door","severity":"huge"}`, "severity"},
		{`{"device":"alm-api","type":"door","channel":65}`, "channel"},
		{`{"device":"alm-api","type":"door","message":"` + strings.Repeat("x", 501) + `"}`, "message"},
		{`{"device":"alm-api","type":"door","colour":"red"}`, "colour"},
		{`{"device":"Bad Id","type":"door"}`, "device"},
	} {
		st, hdr, body := n.Do("POST", "/v1/alarms", "", c.body)
		expectProblem(t, "raise "+c.body[:min(len(c.body), 60)], st, hdr, body, 400, c.field)
	}
	st, hdr, body := n.Do("POST", "/v1/alarms", "", `{"device":"nope","type":"door"}`)
	expectProblem(t, "raise on an unknown device", st, hdr, body, 404, "device")
	if !strings.Contains(string(body), "nope") {
		t.Errorf("the 404 does not name the device: %s", body)
	}
	st, hdr, body = n.Do("POST", "/v1/alarms", "", `{"device":"alm-api","channel":3,"type":"door"}`)
	expectProblem(t, "raise on a missing channel", st, hdr, body, 404, "channel")

	st, hdr, body = n.Do("POST", "/v1/alarms", "", `{"device":"alm-api","channel":2,"type":"door","severity":"critical","message":"forced"}`)
	a := decode[alarmJSON](t, body)
	if st != 201 || a.ID != "alm-api~2~door~1" || hdr.Get("Location") != "/v1/alarms/alm-api~2~door~1" || a.Source != "api" || a.Severity != "critical" {
		t.Fatalf("raise: %d %v %s", st, hdr, body)
	}
	if st, _, body = n.Do("POST", "/v1/alarms", "", `{"device":"alm-api","channel":2,"type":"door"}`); st != 200 || decode[alarmJSON](t, body).Count != 2 {
		t.Fatalf("repeat: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/alarms/alm-api~2~door~1/ack", "", `{"reason":"x"}`)
	expectProblem(t, "ack with a reason", st, hdr, body, 400, "reason")
	st, hdr, body = n.Do("GET", "/v1/alarms/alm-api~2~door~9", "", "")
	expectProblem(t, "unknown alarm", st, hdr, body, 404, "")
	st, hdr, body = n.Do("GET", "/v1/alarms/not-an-alarm", "", "")
	expectProblem(t, "malformed alarm id", st, hdr, body, 400, "id")
	if st, _, body = n.Do("POST", "/v1/alarms/alm-api~2~door~1/clear", "", `{"reason":"false alarm"}`); st != 200 || decode[alarmJSON](t, body).ClearedBy == "" {
		t.Fatalf("clear: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/alarms/alm-api~2~door~1/ack", "", "")
	expectProblem(t, "ack of a cleared alarm", st, hdr, body, 409, "")
	if st, _, body = n.Do("POST", "/v1/alarms", "", `{"device":"alm-api","channel":2,"type":"door"}`); st != 201 || decode[alarmJSON](t, body).ID != "alm-api~2~door~2" {
		t.Fatalf("raise after the clear: %d %s", st, body)
	}
	st, hdr, body = n.Do("GET", "/v1/alarms?state=loud", "", "")
	expectProblem(t, "bad state filter", st, hdr, body, 400, "state")

	// The older alarm from the history, once projected.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, body = n.Do("GET", "/v1/alarms/alm-api~2~door~1", "", "")
		if st == 200 && decode[alarmJSON](t, body).State == "cleared" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cleared alarm from the history: %d %s", st, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Paging the history.
	st, _, body = n.Do("GET", "/v1/alarms?device=alm-api&type=door&limit=1", "", "")
	p := decode[alarmPage](t, body)
	if st != 200 || len(p.Items) != 1 || p.NextCursor == nil || p.Items[0].ID != "alm-api~2~door~2" {
		t.Fatalf("first page: %d %s", st, body)
	}
	st, _, body = n.Do("GET", "/v1/alarms?device=alm-api&type=door&limit=1&cursor="+url.QueryEscape(*p.NextCursor), "", "")
	if p = decode[alarmPage](t, body); st != 200 || len(p.Items) != 1 || p.Items[0].ID != "alm-api~2~door~1" {
		t.Fatalf("second page: %d %s", st, body)
	}
	now := time.Now().UTC()
	w := "from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339))
	st, _, body = n.Do("GET", "/v1/analytics/alarms?"+w+"&group_by=type", "", "")
	if st != 200 || !strings.Contains(string(body), `"key":"door","raised":2,"triggers":3`) {
		t.Fatalf("alarm counts: %d %s", st, body)
	}
	st, hdr, body = n.Do("GET", "/v1/analytics/alarms?"+w+"&group_by=colour", "", "")
	expectProblem(t, "bad group_by", st, hdr, body, 400, "group_by")
	if st, _, body = n.Do("GET", "/v1/events?kind=alarm&aggregate=alm-api~2~door", "", ""); st != 200 || strings.Count(string(body), `"type":"alarm.raised"`) != 2 ||
		strings.Count(string(body), `"type":"alarm.repeated"`) != 1 || strings.Count(string(body), `"type":"alarm.cleared"`) != 1 {
		t.Fatalf("alarm events in the log: %d %s", st, body)
	}

	// Offline for 2 s: a system alarm; back online: cleared by the system.
	cam.Close()
	off := waitAlarm(t, n, "state=open&device=alm-api", 15*time.Second, func(a alarmJSON) bool { return a.Type == "offline" })
	if off.Channel != 0 || off.Source != "system" || off.Severity != "major" {
		t.Fatalf("offline alarm: %+v", off)
	}
	startCam(t, fakecam.Options{Listen: cam.Addr(), Paths: []string{"a1"}})
	deadline = time.Now().Add(15 * time.Second)
	for {
		st, _, body = n.Do("GET", "/v1/alarms/"+off.ID, "", "")
		if a := decode[alarmJSON](t, body); st == 200 && a.State == "cleared" && a.ClearedBy == "system" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offline alarm after the camera came back: %d %s", st, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVideoMotionAlarm: the fakecam's motion (an ONVIF event and a moving
// box in its picture) becomes both a camera alarm and, through Argus's own
// motion detection on the channel, a video_motion alarm with a picture;
// the box stopping ends the latter. Bad settings are 400 naming the field.
func TestVideoMotionAlarm(t *testing.T) {
	_, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	addONVIF(t, n, srv, "vm-cam")
	for _, c := range []struct{ body, field string }{
		{`{}`, "enabled"},
		{`{"enabled":true,"sensitivity":2}`, "sensitivity"},
		{`{"enabled":true,"zones":[[0.5,0.5,0.8,0.2]]}`, "zones"},
		{`{"enabled":true,"cooldown_ms":-1}`, "cooldown_ms"},
		{`{"enabled":true,"min_duration_ms":70000}`, "min_duration_ms"},
		{`{"enabled":true,"colour":1}`, "colour"},
	} {
		st, hdr, body := n.Do("PUT", "/v1/devices/vm-cam/channels/1/motion", "", c.body)
		expectProblem(t, "motion "+c.body, st, hdr, body, 400, c.field)
	}
	st, hdr, body := n.Do("PUT", "/v1/devices/vm-cam/channels/9/motion", "", `{"enabled":true}`)
	expectProblem(t, "motion on a missing channel", st, hdr, body, 404, "ch")
	if st, _, body := n.Do("PUT", "/v1/devices/vm-cam/channels/1/motion", "", `{"enabled":true,"sensitivity":0.6,"cooldown_ms":1500,"zones":[[0,0,0.6,1]]}`); st != 200 ||
		!strings.Contains(string(body), `"enabled":true`) || !strings.Contains(string(body), `"alarm_type":"video_motion"`) {
		t.Fatalf("set motion: %d %s", st, body)
	}
	if st, _, body := n.Do("GET", "/v1/devices/vm-cam/channels/1/motion", "", ""); st != 200 || !strings.Contains(string(body), `"sensitivity":0.6`) {
		t.Fatalf("get motion: %d %s", st, body)
	}
	// The detector's first frames: a still scene (the running clock in the
	// bottom-right corner is outside the zone), no alarm.
	time.Sleep(3 * time.Second)
	if st, _, body := n.Do("GET", "/v1/alarms?state=open&device=vm-cam", "", ""); st != 200 || len(decode[alarmPage](t, body).Items) != 0 {
		t.Fatalf("alarms of a still picture: %d %s", st, body)
	}
	srv.RaiseMotion("main_1", true)
	cam := waitAlarm(t, n, "state=open&device=vm-cam&type=motion", 3*time.Second, func(a alarmJSON) bool { return true })
	vm := waitAlarm(t, n, "state=open&device=vm-cam&type=video_motion", 10*time.Second, func(a alarmJSON) bool { return a.Active })
	if cam.Source != "camera" || vm.Source != "motion" || vm.Channel != 1 {
		t.Fatalf("camera alarm %+v, video motion alarm %+v", cam, vm)
	}
	waitAlarm(t, n, "state=open&device=vm-cam&type=video_motion", 15*time.Second, func(a alarmJSON) bool { return a.SnapshotURL != nil })
	srv.RaiseMotion("main_1", false)
	waitAlarm(t, n, "state=open&device=vm-cam&type=video_motion", 10*time.Second, func(a alarmJSON) bool { return !a.Active })
	// Disabled: the detector stops.
	if st, _, body := n.Do("PUT", "/v1/devices/vm-cam/channels/1/motion", "", `{"enabled":false}`); st != 200 {
		t.Fatalf("disable: %d %s", st, body)
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
	"github.com/argus-vms/argus/test/testenv"
)

// onvifCamera is a fakecam with two paths and its ONVIF service (PTZ,
// unicast discovery), both requiring user/pass.
func onvifCamera(t *testing.T) (*fakecam.Camera, *onvifsrv.Server) {
	t.Helper()
	cam := startCam(t, fakecam.Options{Paths: []string{"ch1", "ch2"}, User: "admin", Pass: "cam-secret"})
	srv, err := onvifsrv.Start(context.Background(), onvifsrv.Options{
		Username: "admin", Password: "cam-secret", PTZ: true, Discovery: true,
		OnView: cam.ViewSetter(map[string]string{"main_1": "ch1", "main_2": "ch2"}),
		Profiles: []onvifsrv.Profile{
			{Token: "main_1", Name: "main 1", StreamURI: cam.StreamURI("ch1"), Width: 640, Height: 360},
			{Token: "main_2", Name: "main 2", StreamURI: cam.StreamURI("ch2"), Width: 640, Height: 360},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return cam, srv
}

type onvifDeviceJSON struct {
	ID       string `json:"id"`
	Onvif    string `json:"onvif"`
	Channels int    `json:"channels"`
	Camera   struct {
		Manufacturer, Model string
	} `json:"camera"`
	Sources []struct {
		Channel     int    `json:"channel"`
		Profile     string `json:"profile"`
		StreamURL   string `json:"stream_url"`
		SnapshotURL string `json:"snapshot_url"`
		PTZ         bool   `json:"ptz"`
	} `json:"sources"`
}

type discoveryJSON struct {
	Items []struct {
		Address      string `json:"address"`
		Model        string `json:"model"`
		AlreadyAdded bool   `json:"already_added"`
	} `json:"items"`
}

// TestAddByONVIF: discovery finds the camera (unicast WS-Discovery); adding
// it by its ONVIF address reads its video sources into channels with their
// stream and snapshot URIs (no credentials in them); its live stream plays;
// discovery then marks it added. A wrong password, a server that is not
// ONVIF and an address nobody answers are 502 problems naming the field.
func TestAddByONVIF(t *testing.T) {
	cam, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{})

	discover := func() discoveryJSON {
		t.Helper()
		st, _, body := n.Do("POST", "/v1/discovery", "", fmt.Sprintf(`{"targets":[%q],"timeout_ms":1500}`, srv.DiscoveryAddr()))
		if st != 200 {
			t.Fatalf("discovery: %d %s", st, body)
		}
		return decode[discoveryJSON](t, body)
	}
	d := discover()
	if len(d.Items) != 1 || d.Items[0].Address != srv.DeviceURL() || d.Items[0].AlreadyAdded {
		t.Fatalf("discovery before adding: %+v (want %s)", d, srv.DeviceURL())
	}

	st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"onv-1","name":"onvif camera","onvif":%q,"username":"admin","password":"cam-secret"}`, srv.DeviceURL()))
	if st != 201 {
		t.Fatalf("add by onvif: %d %s", st, body)
	}
	dev := decode[onvifDeviceJSON](t, body)
	if dev.Onvif != srv.DeviceURL() || dev.Channels != 2 || len(dev.Sources) != 2 || dev.Camera.Manufacturer == "" {
		t.Fatalf("device read over onvif: %s", body)
	}
	for i, s := range dev.Sources {
		if want := cam.StreamURI(fmt.Sprintf("ch%d", i+1)); s.Channel != i+1 || s.StreamURL != want || !s.PTZ || s.SnapshotURL == "" {
			t.Errorf("source %d: %+v, want stream %s with PTZ and a snapshot URI", i, s, want)
		}
	}
	if bytes.Contains(body, []byte("cam-secret")) {
		t.Errorf("the camera password is in the answer: %s", body)
	}
	for ch := 1; ch <= 2; ch++ {
		u := liveURLs(t, n, "onv-1", ch, "")
		if out, err := ffprobe(t, u.RTSP, "-rtsp_transport", "tcp"); err != nil || out != "h264x640x360" {
			t.Errorf("channel %d live: %q %v", ch, out, err)
		}
	}
	if d := discover(); len(d.Items) != 1 || !d.Items[0].AlreadyAdded {
		t.Errorf("discovery after adding: %+v", d)
	}

	// Read again: nothing changed, no event; a third video source appears
	// on the camera (restarted with it): refresh records it.
	st, _, body = n.Do("POST", "/v1/devices/onv-1/onvif/refresh", "", "")
	if st != 200 || decode[struct{ Version int }](t, body).Version == 0 {
		t.Fatalf("refresh: %d %s", st, body)
	}
	before := decode[struct{ Version int }](t, body).Version
	o := srv.Options()
	srv.Close()
	o.Profiles = append(o.Profiles, onvifsrv.Profile{Token: "main_3", Name: "main 3", StreamURI: cam.StreamURI("ch1"), Width: 640, Height: 360})
	srv2, err := onvifsrv.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.Close)
	st, _, body = n.Do("POST", "/v1/devices/onv-1/onvif/refresh", "", "")
	if d := decode[onvifDeviceJSON](t, body); st != 200 || d.Channels != 3 || len(d.Sources) != 3 {
		t.Fatalf("refresh after a new source: %d %s", st, body)
	}
	if v := decode[struct{ Version int }](t, body).Version; v <= before {
		t.Errorf("refresh: version %d after %d, want an event", v, before)
	}
	st, hdr, body := n.Do("POST", "/v1/devices/plain-1/onvif/refresh", "", "")
	expectProblem(t, "refresh an unknown device", st, hdr, body, 404, "")

	// The camera refuses a wrong password: 502 naming the password.
	st, hdr, body = n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"name":"x","onvif":%q,"username":"admin","password":"wrong"}`, srv2.DeviceURL()))
	expectProblem(t, "wrong camera password", st, hdr, body, 502, "password")
	// A web server that is not ONVIF.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>router login</body></html>")
	}))
	defer web.Close()
	st, hdr, body = n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"name":"x","onvif":%q}`, web.URL+"/onvif/device_service"))
	expectProblem(t, "not onvif", st, hdr, body, 502, "onvif")
	// A camera that answers every call with a SOAP fault: 502 naming it.
	faulty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Optional Action Not Implemented</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`)
	}))
	defer faulty.Close()
	st, hdr, body = n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"name":"x","onvif":%q}`, faulty.URL+"/onvif/device_service"))
	expectProblem(t, "soap fault", st, hdr, body, 502, "onvif")
	if !bytes.Contains(body, []byte("Optional Action Not Implemented")) {
		t.Errorf("the 502 does not name the camera's fault: %s", body)
	}
	// Nobody listens there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	st, hdr, body = n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"name":"x","onvif":"http://%s/onvif/device_service"}`, dead))
	expectProblem(t, "unreachable", st, hdr, body, 502, "onvif")
	// Bad input never reaches a camera.
	for _, c := range []struct{ body, field string }{
		{`{"name":"x","onvif":"ftp://h/x"}`, "onvif"},
		{`{"name":"x"}`, "url"},
		{`{"name":"x","onvif":""}`, "onvif"},
	} {
		st, hdr, body = n.Do("POST", "/v1/devices", "", c.body)
		expectProblem(t, c.body, st, hdr, body, 400, c.field)
	}
	st, hdr, body = n.Do("POST", "/v1/discovery", "", `{"targets":["no-port"]}`)
	expectProblem(t, "discovery target without port", st, hdr, body, 400, "targets[0]")
}

type ptzStatusJSON struct {
	Position struct{ Pan, Tilt, Zoom float64 } `json:"position"`
	Moving   bool                              `json:"moving"`
}

// TestONVIFPTZ: through the API, a continuous move changes the camera's
// reported position until it stops; an absolute move lands where asked; a
// preset is set, gone to and removed (both changes are events); the moves
// of one key end up as one device.ptz_session event; a viewer may read the
// status but not move; a device without PTZ is 409.
func TestONVIFPTZ(t *testing.T) {
	cam, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--ptz-session-idle", "1s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"ptz-1","name":"dome","onvif":%q,"username":"admin","password":"cam-secret"}`, srv.DeviceURL())); st != 201 {
		t.Fatalf("add: %d %s", st, body)
	}
	status := func() ptzStatusJSON {
		t.Helper()
		st, _, body := n.Do("GET", "/v1/devices/ptz-1/channels/1/ptz", "", "")
		if st != 200 {
			t.Fatalf("ptz status: %d %s", st, body)
		}
		return decode[ptzStatusJSON](t, body)
	}
	cmd := func(body string, want int) {
		t.Helper()
		if st, _, b := n.Do("POST", "/v1/devices/ptz-1/channels/1/ptz", "", body); st != want {
			t.Fatalf("ptz %s: %d %s, want %d", body, st, b, want)
		}
	}
	before := status()
	waitShown(t, cam, "ch1", fakecam.View{})
	frameBefore := grayFrame(t, liveURLs(t, n, "ptz-1", 1, "").RTSP)
	cmd(`{"continuous":{"pan":0.5,"tilt":0,"timeout_ms":5000}}`, 204)
	time.Sleep(400 * time.Millisecond)
	if s := status(); !s.Moving || s.Position.Pan <= before.Position.Pan {
		t.Errorf("during a continuous move: %+v (before %+v)", s, before)
	}
	cmd(`{"stop":true}`, 204)
	stopped := status()
	time.Sleep(300 * time.Millisecond)
	if s := status(); s.Moving || s.Position.Pan != stopped.Position.Pan {
		t.Errorf("after stop: %+v, then %+v", stopped, s)
	}
	cmd(`{"absolute":{"pan":-0.25,"tilt":0.5,"zoom":0.2}}`, 204)
	deadline := time.Now().Add(5 * time.Second)
	for s := status(); !(near(s.Position.Pan, -0.25) && near(s.Position.Tilt, 0.5) && near(s.Position.Zoom, 0.2)); s = status() {
		if time.Now().After(deadline) {
			t.Fatalf("absolute move: at %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The picture shows it: the camera's view is there, and a frame read
	// through Argus differs from the one before the moves.
	waitShown(t, cam, "ch1", fakecam.View{Pan: -0.25, Tilt: 0.5})
	if d := meanAbsDiff(frameBefore, grayFrame(t, liveURLs(t, n, "ptz-1", 1, "").RTSP)); d < 8 {
		t.Errorf("the picture did not change with the move: mean difference %.1f", d)
	}

	// Presets: set here, move away, go back, remove.
	st, _, body := n.Do("PUT", "/v1/devices/ptz-1/channels/1/ptz/presets/door", "", "")
	if st != 200 {
		t.Fatalf("set preset: %d %s", st, body)
	}
	st, _, body = n.Do("GET", "/v1/devices/ptz-1/channels/1/ptz/presets", "", "")
	if st != 200 || !bytes.Contains(body, []byte(`"name":"door"`)) {
		t.Fatalf("presets: %d %s", st, body)
	}
	cmd(`{"home":true}`, 204)
	cmd(`{"preset":"door"}`, 204)
	deadline = time.Now().Add(5 * time.Second)
	for s := status(); !near(s.Position.Pan, -0.25); s = status() {
		if time.Now().After(deadline) {
			t.Fatalf("goto preset: at %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd(`{"preset":"nowhere"}`, 404)
	if st, _, body := n.Do("DELETE", "/v1/devices/ptz-1/channels/1/ptz/presets/door", "", ""); st != 204 {
		t.Fatalf("remove preset: %d %s", st, body)
	}
	st, hdr, body := n.Do("DELETE", "/v1/devices/ptz-1/channels/1/ptz/presets/door", "", "")
	expectProblem(t, "remove a removed preset", st, hdr, body, 404, "name")

	// Bad input names its field; nothing reaches the camera.
	for _, c := range []struct{ body, field string }{
		{`{"continuous":{"pan":2}}`, "continuous.pan"},
		{`{"absolute":{"zoom":-0.5}}`, "absolute.zoom"},
		{`{"stop":true,"home":true}`, "body"},
		{`{}`, "body"},
		{`{"continuous":{"pan":0.1,"timeout_ms":5}}`, "continuous.timeout_ms"},
		{`{"preset":""}`, "preset"},
	} {
		st, hdr, body := n.Do("POST", "/v1/devices/ptz-1/channels/1/ptz", "", c.body)
		expectProblem(t, c.body, st, hdr, body, 400, c.field)
	}

	// A viewer reads the status, and may not move.
	st, _, body = n.Do("POST", "/v1/keys", "", `{"name":"wall","role":"viewer"}`)
	var viewer struct{ Key string }
	if err := json.Unmarshal(body, &viewer); st != 201 || err != nil {
		t.Fatalf("viewer key: %d %s", st, body)
	}
	if st, _, body := n.Do("GET", "/v1/devices/ptz-1/channels/1/ptz", viewer.Key, ""); st != 200 {
		t.Errorf("viewer reads ptz status: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/devices/ptz-1/channels/1/ptz", viewer.Key, `{"stop":true}`)
	expectProblem(t, "viewer moves", st, hdr, body, 403, "")

	// A device without ONVIF PTZ.
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"plain","name":"plain","url":"rtsp://127.0.0.1:9/x"}`); st != 201 {
		t.Fatalf("plain device: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/devices/plain/channels/1/ptz", "", `{"stop":true}`)
	expectProblem(t, "no ptz", st, hdr, body, 409, "")

	// The facts: preset set and removed, and one session of the admin's moves.
	var types []string
	deadline = time.Now().Add(10 * time.Second)
	for !slices.Contains(types, "device.ptz_session") && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		st, _, body = n.Do("GET", "/v1/events?kind=device&aggregate=ptz-1&limit=1000", "", "")
		var page struct {
			Items []struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &page); st != 200 || err != nil {
			t.Fatalf("events: %d %s", st, body)
		}
		types = types[:0]
		for _, it := range page.Items {
			types = append(types, it.Type)
			if it.Type == "device.ptz_session" && (!bytes.Contains(it.Data, []byte(`"key_id":"admin"`)) || !bytes.Contains(it.Data, []byte(`"moves":`))) {
				t.Errorf("session event %s", it.Data)
			}
		}
	}
	for _, want := range []string{"device.ptz_preset_set", "device.ptz_preset_removed", "device.ptz_session"} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s event: %v", want, types)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.02 }

// cameraEvents are the device.camera_event data of a device, in log order.
func cameraEvents(t *testing.T, n *testenv.Node, id string) []map[string]any {
	t.Helper()
	st, _, body := n.Do("GET", "/v1/events?type=device.camera_event&aggregate="+id+"&limit=1000", "", "")
	var page struct {
		Items []struct {
			Data map[string]any `json:"data"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); st != 200 || err != nil {
		t.Fatalf("camera events: %d %s", st, body)
	}
	var out []map[string]any
	for _, it := range page.Items {
		out = append(out, it.Data)
	}
	return out
}

// waitMotion waits up to d for a recorded motion event with state on.
func waitMotion(t *testing.T, n *testenv.Node, id string, on bool, after int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := cameraEvents(t, n, id)
		for i := after; i < len(evs); i++ {
			st, _ := evs[i]["state"].(bool)
			if evs[i]["kind"] == "motion" && st == on {
				return i + 1
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no motion %v event within %v: %v", on, d, evs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestONVIFCameraEvents: the node hosting an ONVIF device follows its
// events: motion raised on the camera is a device.camera_event within 2 s
// (only changes are recorded); after the camera restarts, which forgets
// every subscription, events resume.
// addONVIF adds onvifCamera's camera as device id and waits until the node
// follows its events.
func addONVIF(t *testing.T, n *testenv.Node, srv *onvifsrv.Server, id string) {
	t.Helper()
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"hall","onvif":%q,"username":"admin","password":"cam-secret"}`, id, srv.DeviceURL())); st != 201 {
		t.Fatalf("add: %d %s", st, body)
	}
	waitSubscribed(t, srv, 10*time.Second)
}

// waitSubscribed waits for the node's event subscription at the camera.
func waitSubscribed(t *testing.T, srv *onvifsrv.Server, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for srv.Subscriptions() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the node did not subscribe to the camera's events")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestONVIFCameraEvents(t *testing.T) {
	_, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	addONVIF(t, n, srv, "evt-1")
	srv.RaiseMotion("main_1", true)
	seen := waitMotion(t, n, "evt-1", true, 0, 2*time.Second)
	srv.RaiseMotion("main_1", true) // the same state again: nothing new
	srv.RaiseMotion("main_1", false)
	seen = waitMotion(t, n, "evt-1", false, seen, 2*time.Second)
	evs := cameraEvents(t, n, "evt-1")
	if ch, _ := evs[seen-1]["channel"].(float64); ch != 1 {
		t.Errorf("motion event channel: %v", evs[seen-1])
	}
	for i := 1; i < len(evs); i++ {
		if evs[i]["kind"] == evs[i-1]["kind"] && evs[i]["source"] == evs[i-1]["source"] && evs[i]["state"] == evs[i-1]["state"] {
			t.Errorf("the same state recorded twice: %v", evs)
		}
	}

	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, srv, 15*time.Second) // a new one after the camera restarted
	srv.RaiseMotion("main_1", true)
	waitMotion(t, n, "evt-1", true, seen, 2*time.Second)
}

// TestDiscoveryMulticast: without targets, discovery probes by multicast
// (239.255.255.250:3702) and finds a camera listening for it on this
// machine.
func TestDiscoveryMulticast(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"ch1"}})
	srv, err := onvifsrv.Start(context.Background(), onvifsrv.Options{Discovery: true, DiscoveryMulticast: true, Model: "multicast-cam",
		Profiles: []onvifsrv.Profile{{Token: "p1", StreamURI: cam.StreamURI("ch1")}}})
	if err != nil {
		t.Fatalf("a camera listening for multicast probes: %v", err)
	}
	t.Cleanup(srv.Close)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	st, _, body := n.Do("POST", "/v1/discovery", "", `{"timeout_ms":2000}`)
	if st != 200 {
		t.Fatalf("discovery: %d %s", st, body)
	}
	for _, it := range decode[discoveryJSON](t, body).Items {
		if it.Address == srv.DeviceURL() {
			return
		}
	}
	t.Fatalf("the multicast probe did not find %s: %s", srv.DeviceURL(), body)
}

// jpegSize decodes a JPEG's size, failing the test for anything else.
func jpegSize(t *testing.T, what string, st int, hdr http.Header, body []byte) (int, int) {
	t.Helper()
	if st != 200 || hdr.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("%s: %d %s %.300s", what, st, hdr.Get("Content-Type"), body)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not a JPEG: %v", what, err)
	}
	return cfg.Width, cfg.Height
}

// TestSnapshots: a channel's snapshot comes from the camera's snapshot URI
// (ONVIF) or, for a camera without one, from the stream's keyframe decoded;
// ?width= scales; a live token of the channel opens it too.
func TestSnapshots(t *testing.T) {
	cam, srv := onvifCamera(t)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"snap-1","name":"onvif","onvif":%q,"username":"admin","password":"cam-secret"}`, srv.DeviceURL())); st != 201 {
		t.Fatalf("add onvif: %d %s", st, body)
	}
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"snap-2","name":"rtsp only","url":%q,"username":"admin","password":"cam-secret"}`, cam.StreamURI("ch2"))); st != 201 {
		t.Fatalf("add rtsp: %d %s", st, body)
	}
	for _, c := range []struct {
		what, path string
		w, h       int
	}{
		{"camera URI", "/v1/devices/snap-1/channels/1/snapshot.jpg", 640, 360},
		{"camera URI, scaled", "/v1/devices/snap-1/channels/2/snapshot.jpg?width=320", 320, 180},
		{"keyframe", "/v1/devices/snap-2/channels/1/snapshot.jpg", 640, 360},
		{"keyframe, scaled", "/v1/devices/snap-2/channels/1/snapshot.jpg?width=160", 160, 90},
	} {
		st, hdr, body := n.Do("GET", c.path, "", "")
		if w, h := jpegSize(t, c.what, st, hdr, body); w != c.w || h != c.h {
			t.Errorf("%s: %dx%d, want %dx%d", c.what, w, h, c.w, c.h)
		}
	}
	// A live token of the channel, without a key.
	u := liveURLs(t, n, "snap-2", 1, "")
	hls, _ := url.Parse(u.HLS)
	st, hdr, body := n.Do("GET", "/v1/devices/snap-2/channels/1/snapshot.jpg?token="+url.QueryEscape(hls.Query().Get("token")), "-", "")
	jpegSize(t, "live token", st, hdr, body)
	st, hdr, body = n.Do("GET", "/v1/devices/snap-1/channels/1/snapshot.jpg?token="+url.QueryEscape(hls.Query().Get("token")), "-", "")
	expectProblem(t, "another channel's token", st, hdr, body, 403, "token")
	st, hdr, body = n.Do("GET", "/v1/devices/snap-1/channels/1/snapshot.jpg?width=5", "", "")
	expectProblem(t, "bad width", st, hdr, body, 400, "width")
	st, hdr, body = n.Do("GET", "/v1/devices/snap-1/channels/9/snapshot.jpg", "", "")
	expectProblem(t, "no such channel", st, hdr, body, 404, "ch")
	st, hdr, body = n.Do("GET", "/v1/devices/snap-1/channels/1/snapshot.jpg", "-", "")
	expectProblem(t, "no key", st, hdr, body, 401, "")
}

// waitShown waits until the fake camera's path shows view v.
func waitShown(t *testing.T, cam *fakecam.Camera, path string, v fakecam.View) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, ok := cam.ShownView(path); ok && got == v {
			return
		}
		if time.Now().After(deadline) {
			got, ok := cam.ShownView(path)
			t.Fatalf("%s shows %+v (%v), want %+v", path, got, ok, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grayFrame is one frame of an RTSP URL, decoded by ffmpeg to 64x36 gray.
func grayFrame(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
		"-frames:v", "1", "-vf", "scale=64:36,format=gray", "-f", "rawvideo", "-").Output()
	if err != nil || len(out) != 64*36 {
		t.Fatalf("a frame of %s: %v (%d bytes)", url, err, len(out))
	}
	return out
}

func meanAbsDiff(a, b []byte) float64 {
	sum := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a))
}

package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
	"github.com/argus-vms/argus/test/testenv"
)

// TestConsole: log in with the admin key, see the device in the list, get a
// field error for a bad URL in the add form, add and remove a device, filter
// by label, open the device page and watch its live video play (currentTime
// advances, videoWidth > 0) and its events, reload the deep link, play the
// live grid. An ONVIF camera (onvifsrv, streaming fakecam's cam1): a wrong
// password named at the password field, discovery (unicast to its
// WS-Discovery socket) lists it, "Add" fills the form, the device is added;
// its page shows the camera's information, a snapshot (640 px wide) and
// the PTZ pad: holding "right" pans, a preset saved there is found again
// after going home. An alarm raised through the API is listed on the alarms
// page with the navigation's count; acknowledged with a note, its picture
// shown and its "Recording" link playing at its raise, with its mark on the
// device's timeline; cleared, it leaves the open list; the history says it
// needs ClickHouse. An event plan is set through the plan editor (a
// post-roll out of range named at its field first; then pre-roll 3,
// post-roll 2, triggers door, as GET …/plan shows), motion detection is
// enabled through its panel (a zone outside the picture named first; GET
// …/motion shows it), and a door alarm's event recording is drawn as a
// segment carrying the alarm's id. Then a viewer key follows a deep link
// through the login and sees no add or remove controls, the plan and
// motion settings but no controls for them, the PTZ position but no PTZ
// controls, and alarms without Ack or Clear. No CSP violation or page
// error on the way, and the key never appears in a URL.
func TestConsole(t *testing.T) {
	NeedTools(t)
	NPMCI(t)
	shots := ShotsDir(t)

	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"cam1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	// The ONVIF camera streams cam1 (no RTSP credentials there: the pull
	// sends the device's admin/pw, which the fakecam does not ask for).
	onv, err := onvifsrv.Start(context.Background(), onvifsrv.Options{Username: "admin", Password: "pw", PTZ: true, Discovery: true,
		Profiles: []onvifsrv.Profile{{Token: "p1", Name: "ptz cam", StreamURI: cam.StreamURI("cam1"), Width: 640, Height: 360}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(onv.Close)
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--probe-interval", "1s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"cam-1","name":"front door","url":%q,"labels":{"site":"hq"}}`, cam.URL("cam1"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}

	// Fifteen small cameras more for the 16-tile grid (one encode, shared).
	grid, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: gridPaths(), Width: 320, Height: 180, FPS: 10, Bitrate: 150_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(grid.Close)
	var tiles []string
	for i, path := range gridPaths() {
		id := fmt.Sprintf("grid-%02d", i+1)
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"grid","url":%q}`, id, grid.URL(path))); st != 201 {
			t.Fatalf("create %s: %d %s", id, st, body)
		}
		tiles = append(tiles, id+":1")
	}

	for _, id := range []string{"pg-a", "pg-b"} { // for paging
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"paging","url":"rtsp://127.0.0.1:9/none"}`, id)); st != 201 {
			t.Fatalf("create %s: %d %s", id, st, body)
		}
	}
	st, _, body := n.Do("POST", "/v1/keys", "", `{"name":"wall","role":"viewer"}`)
	var viewer struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &viewer); st != 201 || err != nil || viewer.Key == "" {
		t.Fatalf("viewer key: %d %s", st, body)
	}

	RunScript(t, n, "console.mjs", shots, 3*time.Minute, "VIEWER_KEY="+viewer.Key, "DEVICE_ID=cam-1", "GRID_TILES="+strings.Join(tiles, ","),
		"ONVIF_TARGET="+onv.DiscoveryAddr(), "ONVIF_URL="+onv.DeviceURL())
}

// gridPaths are the fifteen paths of the grid camera.
func gridPaths() []string {
	var out []string
	for i := 1; i <= 15; i++ {
		out = append(out, fmt.Sprintf("g%d", i))
	}
	return out
}

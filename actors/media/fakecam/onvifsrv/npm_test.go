package onvifsrv

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// npmDir holds the independent client: agsh/onvif pinned by package.json
// and package-lock.json, and check.mjs, which drives it.
const npmDir = "testdata/npm"

// npmResult is check.mjs's JSON line.
type npmResult struct {
	Manufacturer, Model, Serial string
	Profiles                    []string
	ActiveSource                string
	Resolution                  []string
	StreamURI                   string `json:"streamUri"`
	SnapshotURI                 string `json:"snapshotUri"`
	PTZ                         struct {
		Start, AfterStop, Absolute, AfterPreset npmPosition
		Moving, AfterStopStatus                 string
	}
	SetPresetResponse string
	Presets           map[string]string
	TopicSet          []string
	Subscription      string
	Events            []struct {
		Topic, Operation, Source string
		IsMotion                 bool
	}
}

type npmPosition struct{ X, Y, Zoom float64 }

// TestNpmOnvifClient: agsh/onvif 0.8.3, an ONVIF client written by others,
// connects with a password digest, reads the device, profiles, stream and
// snapshot URIs, moves the PTZ head, saves and recalls a preset, and pulls
// a motion event.
func TestNpmOnvifClient(t *testing.T) {
	testenv.NeedNode(t, "the independent ONVIF client check")
	testenv.NPMCI(t, npmDir, "onvif")
	s := start(t, Options{
		Username: testUser, Password: testPass,
		PTZ:         true,
		ClockOffset: 90 * time.Minute, // the client must use the camera's clock
		MotionEvery: 300 * time.Millisecond,
		Profiles: []Profile{
			{Token: "main", StreamURI: "rtsp://127.0.0.1:8554/cam1", Width: 320, Height: 180},
			{Token: "sub", StreamURI: "rtsp://127.0.0.1:8554/cam1sub", Width: 160, Height: 90},
		},
	})
	host, port, _ := net.SplitHostPort(s.Addr())

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "check.mjs")
	cmd.Dir = npmDir
	cmd.Env = append(os.Environ(), "HOST="+host, "PORT="+port, "USERNAME="+testUser, "PASSWORD="+testPass)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r npmResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("check.mjs output: %v\n%s", err, out)
	}
	t.Logf("agsh/onvif saw: %s", lines[len(lines)-1])

	if r.Manufacturer != "Argus" || r.Model != "fakecam" || r.Serial != s.o.Serial {
		t.Errorf("device information %q %q %q", r.Manufacturer, r.Model, r.Serial)
	}
	if strings.Join(r.Profiles, ",") != "main,sub" || r.ActiveSource != "VideoSource_1" {
		t.Errorf("profiles %v, active source %q", r.Profiles, r.ActiveSource)
	}
	if strings.Join(r.Resolution, ",") != "320x180,160x90" {
		t.Errorf("resolutions %v", r.Resolution)
	}
	if r.StreamURI != "rtsp://127.0.0.1:8554/cam1" {
		t.Errorf("stream URI %q", r.StreamURI)
	}
	if r.SnapshotURI != "http://"+s.Addr()+"/onvif/snapshot/main.jpg" {
		t.Errorf("snapshot URI %q", r.SnapshotURI)
	}
	if r.PTZ.Start != (npmPosition{}) || r.PTZ.Moving != "MOVING" || r.PTZ.AfterStopStatus != "IDLE" {
		t.Errorf("PTZ start %+v, moving %q, after stop %q", r.PTZ.Start, r.PTZ.Moving, r.PTZ.AfterStopStatus)
	}
	if r.PTZ.AfterStop.X <= 0.1 || r.PTZ.AfterStop.Y >= -0.05 {
		t.Errorf("continuous move did not move: %+v", r.PTZ.AfterStop)
	}
	if r.PTZ.Absolute != (npmPosition{X: 0.25, Y: 0.5, Zoom: 0.75}) {
		t.Errorf("absolute move: %+v", r.PTZ.Absolute)
	}
	if r.SetPresetResponse == "" || r.Presets["door"] != r.SetPresetResponse {
		t.Errorf("preset: set %q, listed %v", r.SetPresetResponse, r.Presets)
	}
	if r.PTZ.AfterPreset != r.PTZ.Absolute {
		t.Errorf("goto preset: %+v, want %+v", r.PTZ.AfterPreset, r.PTZ.Absolute)
	}
	// agsh lower-cases a tag's first letter when the second is lower-case.
	if strings.Join(r.TopicSet, ",") != "ruleEngine" {
		t.Errorf("topic set %v", r.TopicSet)
	}
	if !strings.HasPrefix(r.Subscription, "http://"+s.Addr()+"/onvif/subscription/") {
		t.Errorf("subscription address %q", r.Subscription)
	}
	motion := false
	for _, e := range r.Events {
		if e.Topic != motionTopic {
			t.Errorf("event topic %q", e.Topic)
		}
		if e.Operation == "Changed" && e.IsMotion && e.Source == "VideoSourceConfig_1" {
			motion = true
		}
	}
	if !motion {
		t.Errorf("no motion event received: %+v", r.Events)
	}
	if n := s.Subscriptions(); n != 0 {
		t.Errorf("%d subscriptions left after unsubscribe", n)
	}
}

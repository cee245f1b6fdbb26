package onvifsrv

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http"
	"testing"
)

func twoProfiles(ptz bool) Options {
	return Options{PTZ: ptz, Profiles: []Profile{
		{Token: "main", Name: "Main stream", StreamURI: "rtsp://127.0.0.1:8554/cam1", Width: 320, Height: 180},
		{StreamURI: "rtsp://127.0.0.1:8554/cam2", Width: 160, Height: 90, FPS: 10, Bitrate: 500_000},
	}}
}

func TestProfiles(t *testing.T) {
	for _, ptz := range []bool{false, true} {
		s := start(t, twoProfiles(ptz))
		resp := mustCall(t, s, "", `<trt:GetProfiles/>`)
		ps := resp.children("Profiles")
		if len(ps) != 2 {
			t.Fatalf("%d profiles", len(ps))
		}
		want := []struct{ token, name, source, w, h, fps, kbps string }{
			{"main", "Main stream", "VideoSource_1", "320", "180", "25", "2000"},
			{"profile_2", "profile_2", "VideoSource_2", "160", "90", "10", "500"},
		}
		for i, p := range ps {
			w := want[i]
			vsc, enc := p.child("VideoSourceConfiguration"), p.child("VideoEncoderConfiguration")
			got := []string{attrOf(t, p, "token"), p.child("Name").text(), vsc.child("SourceToken").text(),
				path(enc, "Resolution", "Width").text(), path(enc, "Resolution", "Height").text(),
				path(enc, "RateControl", "FrameRateLimit").text(), path(enc, "RateControl", "BitrateLimit").text()}
			if exp := []string{w.token, w.name, w.source, w.w, w.h, w.fps, w.kbps}; !equal(got, exp) {
				t.Errorf("profile %d: %v, want %v", i, got, exp)
			}
			if enc.child("Encoding").text() != "H264" || attrOf(t, vsc, "token") != "VideoSourceConfig_"+itoa(i+1) {
				t.Errorf("profile %d: encoding %q, source configuration %q", i, enc.child("Encoding").text(), attrOf(t, vsc, "token"))
			}
			if pc := p.child("PTZConfiguration"); (pc != nil) != ptz || ptz && attrOf(t, pc, "token") != ptzConfigToken {
				t.Errorf("ptz=%v: profile %d PTZ configuration %v", ptz, i, pc)
			}
		}

		one := mustCall(t, s, "", `<trt:GetProfile><trt:ProfileToken>profile_2</trt:ProfileToken></trt:GetProfile>`)
		if attrOf(t, one.child("Profile"), "token") != "profile_2" {
			t.Errorf("GetProfile: %v", one)
		}
		expectFault(t, post(t, s.DeviceURL(), soapDoc("", `<trt:GetProfile><trt:ProfileToken>nope</trt:ProfileToken></trt:GetProfile>`)),
			400, "Sender/InvalidArgVal/NoProfile")

		srcs := mustCall(t, s, "", `<trt:GetVideoSources/>`).children("VideoSources")
		if len(srcs) != 2 || attrOf(t, srcs[1], "token") != "VideoSource_2" || path(srcs[1], "Resolution", "Width").text() != "160" {
			t.Errorf("video sources %v", srcs)
		}
		if n := len(mustCall(t, s, "", `<trt:GetVideoSourceConfigurations/>`).children("Configurations")); n != 2 {
			t.Errorf("%d video source configurations", n)
		}
		if n := len(mustCall(t, s, "", `<trt:GetVideoEncoderConfigurations/>`).children("Configurations")); n != 2 {
			t.Errorf("%d video encoder configurations", n)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStreamURI(t *testing.T) {
	s := start(t, twoProfiles(false))
	setup := `<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>`
	for tok, want := range map[string]string{"main": "rtsp://127.0.0.1:8554/cam1", "profile_2": "rtsp://127.0.0.1:8554/cam2"} {
		resp := mustCall(t, s, "", `<trt:GetStreamUri>`+setup+`<trt:ProfileToken>`+tok+`</trt:ProfileToken></trt:GetStreamUri>`)
		if got := path(resp, "MediaUri", "Uri").text(); got != want {
			t.Errorf("%s: %q, want %q", tok, got, want)
		}
	}
	multicast := `<trt:StreamSetup><tt:Stream>RTP-Multicast</tt:Stream><tt:Transport><tt:Protocol>UDP</tt:Protocol></tt:Transport></trt:StreamSetup>`
	expectFault(t, post(t, s.DeviceURL(), soapDoc("", `<trt:GetStreamUri>`+multicast+`<trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>`)),
		400, "Sender/InvalidArgVal/InvalidStreamSetup")
	expectFault(t, post(t, s.DeviceURL(), soapDoc("", `<trt:GetStreamUri>`+setup+`<trt:ProfileToken>x</trt:ProfileToken></trt:GetStreamUri>`)),
		400, "Sender/InvalidArgVal/NoProfile")
}

func TestSnapshot(t *testing.T) {
	s := start(t, twoProfiles(false))
	for tok, size := range map[string][2]int{"main": {320, 180}, "profile_2": {160, 90}} {
		uri := path(mustCall(t, s, "", `<trt:GetSnapshotUri><trt:ProfileToken>`+tok+`</trt:ProfileToken></trt:GetSnapshotUri>`), "MediaUri", "Uri").text()
		if uri != "http://"+s.Addr()+"/onvif/snapshot/"+tok+".jpg" {
			t.Fatalf("snapshot URI %q", uri)
		}
		resp, err := http.Get(uri)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("GET %s: %d %s", uri, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
		if err != nil || cfg.Width != size[0] || cfg.Height != size[1] {
			t.Fatalf("snapshot %s: %v %dx%d", tok, err, cfg.Width, cfg.Height)
		}
	}
	resp, err := http.Get("http://" + s.Addr() + "/onvif/snapshot/nope.jpg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown snapshot: %d", resp.StatusCode)
	}
}

func TestStartValidates(t *testing.T) {
	bad := []Options{
		{},
		{Profiles: []Profile{{StreamURI: "http://x/y"}}},
		{Profiles: []Profile{{StreamURI: "rtsp://h/p", Width: 15}}},
		{Profiles: []Profile{{Token: "a b", StreamURI: "rtsp://h/p"}}},
		{Profiles: []Profile{{Token: "a", StreamURI: "rtsp://h/p"}, {Token: "a", StreamURI: "rtsp://h/q"}}},
		{Password: "x", Profiles: []Profile{{StreamURI: "rtsp://h/p"}}},
		{DiscoveryMulticast: true, Profiles: []Profile{{StreamURI: "rtsp://h/p"}}},
	}
	for i, o := range bad {
		if s, err := Start(t.Context(), o); err == nil {
			s.Close()
			t.Errorf("options %d accepted: %+v", i, o)
		}
	}
}

func TestNoFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir()) // no cached snapshot either
	snapshots.Lock()
	saved := snapshots.m
	snapshots.m = nil
	snapshots.Unlock()
	defer func() {
		snapshots.Lock()
		snapshots.m = saved
		snapshots.Unlock()
	}()
	_, err := Start(t.Context(), Options{Profiles: []Profile{{StreamURI: "rtsp://h/p", Width: 32, Height: 32}}})
	if err != ErrNoFFmpeg {
		t.Fatalf("Start without ffmpeg: %v", err)
	}
}

// TestH265Encoding: a profile of an H265 stream says so, without the
// H264 element; other encodings are refused.
func TestH265Encoding(t *testing.T) {
	s := start(t, Options{Profiles: []Profile{{StreamURI: "rtsp://127.0.0.1:8554/cam1", Encoding: "H265"}}})
	enc := mustCall(t, s, "", `<trt:GetProfiles/>`).child("Profiles").child("VideoEncoderConfiguration")
	if got := enc.child("Encoding").text(); got != "H265" || enc.child("H264") != nil {
		t.Errorf("encoding %q, H264 element %v; want H265 and none", got, enc.child("H264"))
	}
	if _, err := Start(context.Background(), Options{Profiles: []Profile{{StreamURI: "rtsp://127.0.0.1:8554/cam1", Encoding: "MJPEG"}}}); err == nil {
		t.Error("encoding MJPEG accepted")
	}
}

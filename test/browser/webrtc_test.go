package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// TestConsoleWebRTC: the device page's live view plays over WebRTC (WHEP)
// first. A camera with Opus audio: live-transport says "webrtc", the
// <video> plays a MediaStream (currentTime advances over 2 s, videoWidth >
// 0) with an audio track, the audio toggle unmutes and mutes it, and leaving
// the page DELETEs the session (the stream's readers drop to 0). With WHEP
// refused, the view plays LL-HLS through hls.js. An H.265 camera (its
// WHEP offer refused with 422) is played through its H.264 rendition
// (?codec=h264, a live transcode) over WebRTC, and its recordings play in
// H.264 (playback.m3u8?codec=h264, a transcode of the range). No CSP violation or page
// error, and the key never in a URL.
func TestConsoleWebRTC(t *testing.T) {
	NeedTools(t)
	NPMCI(t)
	shots := ShotsDir(t)
	started := time.Now()

	cam, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"rtc"}, Audio: fakecam.AudioOpus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	hevc, err := fakecam.Start(context.Background(), fakecam.Options{Listen: "127.0.0.1:0", Paths: []string{"hevc"}, Codec: fakecam.CodecH265})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hevc.Close)
	n := testenv.StartDev(t, testenv.NodeOptions{})
	for _, d := range []struct{ id, url string }{{"rtc-1", cam.URL("rtc")}, {"hevc-1", hevc.URL("hevc")}} {
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"webrtc test","url":%q}`, d.id, d.url)); st != 201 {
			t.Fatalf("create %s: %d %s", d.id, st, body)
		}
	}

	// the H.265 camera records, for the console to play it back
	if st, _, body := n.Do("PUT", "/v1/devices/hevc-1/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		t.Fatalf("plan of hevc-1: %d %s", st, body)
	}

	RunScript(t, n, "webrtc.mjs", shots, 2*time.Minute, "RTC_DEVICE=rtc-1", "HEVC_DEVICE=hevc-1")
	t.Logf("the test ran %.1f s", time.Since(started).Seconds())
}

package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/whep/whepclient"
	"github.com/argus-vms/argus/test/testenv"
)

// TestWebRTC: a Go WHEP reader (pion) plays a camera's live stream
// through the node's webrtc_url: H.264 from an IDR, Opus audio, a reader
// while connected, gone after DELETE; a bad token, a bad offer and an
// H.265 camera get 4xx naming why.
func TestWebRTC(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"w1", "w2"}, Audio: fakecam.AudioOpus})
	hevc := startCam(t, fakecam.Options{Paths: []string{"w3"}, Codec: fakecam.CodecH265})
	n := testenv.StartDev(t, testenv.NodeOptions{})
	for _, d := range []struct{ id, url string }{{"w1", cam.URL("w1")}, {"w3", hevc.URL("w3")}} {
		if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"`+d.id+`","name":"cam","url":"`+d.url+`"}`); st != 201 {
			t.Fatalf("create %s: %d %s", d.id, st, body)
		}
	}
	_, _, body := n.Do("GET", "/v1/devices/w1/channels/1/live", "", "")
	urls := decode[struct {
		WebRTC string `json:"webrtc_url"`
	}](t, body)
	if !strings.Contains(urls.WebRTC, "/whep/w1/1?token=") {
		t.Fatalf("webrtc_url %q", urls.WebRTC)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, urls.WebRTC)
	if err != nil {
		t.Fatalf("WHEP dial: %v", err)
	}
	select {
	case d := <-c.FirstFrame():
		t.Logf("first frame %v after the offer", d)
	case <-ctx.Done():
		t.Fatal("no video frame over WebRTC")
	}
	waitFor(t, "2 s of frames and audio", 10*time.Second, func() bool { return c.Frames() >= 50 && c.AudioPackets() >= 50 })
	s := c.Stats()
	if !s.FirstIsIDR || c.AudioCodec() != "opus" {
		t.Errorf("first frame IDR %v, audio %q (want opus)", s.FirstIsIDR, c.AudioCodec())
	}
	readers := func() int {
		for _, it := range streams(t, n).Items {
			if it.Device == "w1" {
				return it.Readers
			}
		}
		return 0
	}
	if r := readers(); r != 1 {
		t.Errorf("readers %d while the WebRTC session plays, want 1", r)
	}
	if err := c.Close(); err != nil {
		t.Errorf("DELETE: %v", err)
	}
	waitFor(t, "the reader gone", 10*time.Second, func() bool { return readers() == 0 })

	post := func(u, offer string) (int, string) {
		req, _ := http.NewRequest("POST", u, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Origin", "https://player.example")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		k, _ := res.Body.Read(buf)
		b.Write(buf[:k])
		if res.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("POST %s: no CORS header", u)
		}
		return res.StatusCode, b.String()
	}
	base, _, _ := strings.Cut(urls.WebRTC, "?")
	if st, b := post(base+"?token=forged", "v=0"); st != 403 || !strings.Contains(b, "token") {
		t.Errorf("forged token: %d %s", st, b)
	}
	if st, b := post(urls.WebRTC, "not an offer"); st != 400 || !strings.Contains(b, "offer") {
		t.Errorf("bad offer: %d %s", st, b)
	}
	_, _, body = n.Do("GET", "/v1/devices/w3/channels/1/live", "", "")
	h265 := decode[struct {
		WebRTC string `json:"webrtc_url"`
	}](t, body).WebRTC
	if _, err := whepclient.Dial(ctx, h265); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("H.265 camera over WebRTC: %v, want 422", err)
	}
}

// TestPublicURLs: a node behind NAT or a proxy hands clients its public
// addresses (--public-url, --public-rtsp), not its advertise host; a base
// URL with a path is refused at start.
func TestPublicURLs(t *testing.T) {
	t.Parallel()
	n := testenv.StartDev(t, testenv.NodeOptions{Args: []string{"--public-url", "https://cams.example.com:8443", "--public-rtsp", "rtsp://cams.example.com:554"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", `{"id":"pub-1","name":"cam","url":"rtsp://127.0.0.1:1/x"}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	_, _, body := n.Do("GET", "/v1/devices/pub-1/channels/1/live", "", "")
	u := decode[struct {
		RTSP   string `json:"rtsp_url"`
		HLS    string `json:"hls_url"`
		WebRTC string `json:"webrtc_url"`
	}](t, body)
	if !strings.HasPrefix(u.RTSP, "rtsp://cams.example.com:554/live/pub-1/1?token=") ||
		!strings.HasPrefix(u.HLS, "https://cams.example.com:8443/hls/pub-1/1/") ||
		!strings.HasPrefix(u.WebRTC, "https://cams.example.com:8443/whep/pub-1/1?token=") {
		t.Errorf("live URLs %+v, want the public bases", u)
	}

	out, err := exec.Command(testenv.Binary(t), "dev", "--data", t.TempDir(), "--public-url", "https://cams.example.com/base").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--public-url") {
		t.Errorf("a public URL with a path: %v %s", err, out)
	}
}

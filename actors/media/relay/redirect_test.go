package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/argus-vms/argus/actors/media/fakecam"
)

// startRedirectingNode is a second node (A) next to b: its Redirect sends
// cam1 to b and keeps every other key; its local streams pull from b's
// camera. authorized counts A's Authorize calls.
func startRedirectingNode(t *testing.T, b *node) (a *node, authorized *atomic.Int32) {
	t.Helper()
	authorized = new(atomic.Int32)
	a = &node{t: t, cam: b.cam, streams: map[Key]*Stream{}, changes: map[Key][]int{}}
	owner := "rtsp://" + b.srv.RTSPAddr()
	srv, err := NewServer(Config{
		RTSPAddress:    "127.0.0.1:0",
		UDPRTPAddress:  "127.0.0.1:0",
		UDPRTCPAddress: "127.0.0.1:0",
		Authorize: func(k Key, q url.Values) (Grant, error) {
			authorized.Add(1)
			if q.Get("token") != "ok" {
				return Grant{}, errors.New("bad token")
			}
			return Grant{}, nil
		},
		Open: a.open,
		Redirect: func(k Key) (string, bool) {
			return owner, k.Device == "cam1"
		},
		Log: testLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	a.srv = srv
	t.Cleanup(a.close)
	return a, authorized
}

// rawRTSP sends one request on a fresh connection and reads the response.
func rawRTSP(t *testing.T, addr, req string) *base.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var res base.Response
	if err := res.Unmarshal(bufio.NewReader(c)); err != nil {
		t.Fatalf("response to %q: %v", req, err)
	}
	return &res
}

func TestRTSPRedirect(t *testing.T) {
	t.Parallel()
	b := startNode(t, fakecam.Options{})
	a, authorized := startRedirectingNode(t, b)
	bAddr := b.srv.RTSPAddr()

	t.Run("describe answers 302", func(t *testing.T) {
		res := rawRTSP(t, a.srv.RTSPAddr(),
			"DESCRIBE rtsp://"+a.srv.RTSPAddr()+"/live/cam1/1?token=x RTSP/1.0\r\nCSeq: 1\r\n\r\n")
		want := "rtsp://" + bAddr + "/live/cam1/1?token=x"
		if res.StatusCode != base.StatusFound || len(res.Header["Location"]) != 1 || res.Header["Location"][0] != want {
			t.Fatalf("got %d %v, want 302 Location %s", res.StatusCode, res.Header["Location"], want)
		}
	})

	t.Run("setup without describe answers 302", func(t *testing.T) {
		res := rawRTSP(t, a.srv.RTSPAddr(),
			"SETUP rtsp://"+a.srv.RTSPAddr()+"/live/cam1/1?token=x/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"+
				"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
		want := "rtsp://" + bAddr + "/live/cam1/1?token=x/trackID=0"
		if res.StatusCode != base.StatusFound || len(res.Header["Location"]) != 1 || res.Header["Location"][0] != want {
			t.Fatalf("got %d %v, want 302 Location %s", res.StatusCode, res.Header["Location"], want)
		}
	})

	for _, tr := range []string{"tcp", "udp"} {
		t.Run("ffprobe follows over "+tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// -v info: ffmpeg logs the redirect it follows
			cmd := exec.CommandContext(ctx, "ffprobe", "-v", "info", "-rtsp_transport", tr,
				"-show_streams", "-of", "json", a.url("/live/cam1/1", "token=ok"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "Status 302: Redirecting to rtsp://"+bAddr+"/live/cam1/1?token=ok") {
				t.Errorf("no redirect in ffprobe's log:\n%s", stderr.String())
			}
			if !strings.Contains(stdout.String(), `"codec_name": "h264"`) || !strings.Contains(stdout.String(), `"width": 640`) {
				t.Fatalf("ffprobe output:\n%s", stdout.String())
			}
		})
	}

	t.Run("the owner authorizes", func(t *testing.T) {
		_, stderr, err := ffprobe(t, a.url("/live/cam1/1", "token=bad"), "-rtsp_transport", "tcp")
		if err == nil || !strings.Contains(stderr, "401") {
			t.Fatalf("bad token through the redirect: err %v, %s", err, stderr)
		}
	})

	t.Run("gortsplib client follows", func(t *testing.T) {
		u, err := base.ParseURL(a.url("/live/cam1/1", "token=ok"))
		if err != nil {
			t.Fatal(err)
		}
		c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		desc, _, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		var forma *format.H264
		if desc.FindFormat(&forma) == nil {
			t.Fatal("no H264 media")
		}
		if c.Host != bAddr || !strings.Contains(desc.BaseURL.Host, bAddr) {
			t.Fatalf("client on %s (base URL %s), want the owner %s", c.Host, desc.BaseURL, bAddr)
		}
	})

	if n := authorized.Load(); n != 0 {
		t.Errorf("A authorized %d redirected requests", n)
	}
	if n := a.opens.Load(); n != 0 {
		t.Errorf("A opened %d redirected streams", n)
	}
	if b.opens.Load() == 0 {
		t.Error("B never opened the stream")
	}

	// edge=1: A serves the request itself (it authorizes it: a bad token is 401)
	res := rawRTSP(t, a.srv.RTSPAddr(),
		"DESCRIBE rtsp://"+a.srv.RTSPAddr()+"/live/cam1/1?token=x&edge=1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	if res.StatusCode != base.StatusUnauthorized || authorized.Load() != 1 {
		t.Errorf("edge request: %d, %d authorized by A; want 401 from A", res.StatusCode, authorized.Load())
	}

	t.Run("ok=false is served here", func(t *testing.T) {
		out, stderr, err := ffprobe(t, a.url("/live/cam2/1", "token=ok"), "-rtsp_transport", "tcp")
		if err != nil {
			t.Fatalf("ffprobe: %v\n%s", err, stderr)
		}
		wantH264(t, out, 640, 360)
		if authorized.Load() == 0 || a.opens.Load() == 0 {
			t.Fatalf("A did not serve cam2 itself (authorize %d, open %d)", authorized.Load(), a.opens.Load())
		}
		if _, stderr, err := ffprobe(t, a.url("/live/cam2/1", "token=bad"), "-rtsp_transport", "tcp"); err == nil || !strings.Contains(stderr, "401") {
			t.Fatalf("local bad token: %v %s", err, stderr)
		}
	})
}

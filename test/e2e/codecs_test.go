package e2e

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// probeCodecs lists the codec of every stream ffprobe finds at u.
func probeCodecs(t *testing.T, u string, args ...string) []string {
	t.Helper()
	a := append([]string{"-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"}, args...)
	out, err := exec.Command("ffprobe", append(a, u)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v %s", u, err, out)
	}
	return strings.Fields(string(out))
}

func hasCodec(codecs []string, c string) bool {
	for _, x := range codecs {
		if x == c {
			return true
		}
	}
	return false
}

// TestH265Camera: an H.265 camera with AAC audio through a node: live
// RTSP (video and audio), live HLS (fMP4), recordings, playback.mp4 and
// HLS VOD all carry hevc, and a snapshot decodes its keyframe.
func TestH265Camera(t *testing.T) {
	t.Parallel()
	testenv.NeedFFmpeg(t, "H.265 end to end")
	n, start := recordingNodeCam(t, "hevc-1", 12*time.Second, fakecam.Options{Codec: fakecam.CodecH265, Audio: fakecam.AudioAAC},
		testenv.NodeOptions{Args: []string{"--worker-slots", "2"}})

	live := liveURLs(t, n, "hevc-1", 1, "")
	if c := probeCodecs(t, live.RTSP, "-rtsp_transport", "tcp"); !hasCodec(c, "hevc") || !hasCodec(c, "aac") {
		t.Errorf("live RTSP codecs %v, want hevc and aac", c)
	}
	if c := probeCodecs(t, live.HLS); !hasCodec(c, "hevc") {
		t.Errorf("live HLS codecs %v, want hevc", c)
	}

	q := "start=" + url.QueryEscape(start.UTC().Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(start.Add(10*time.Second).UTC().Format(time.RFC3339Nano))
	st, _, body := n.Do("GET", "/v1/devices/hevc-1/channels/1/playback?"+q, "", "")
	if st != 200 {
		t.Fatalf("playback URLs: %d %s", st, body)
	}
	pb := decode[struct {
		MP4 string `json:"mp4_url"`
		HLS string `json:"hls_url"`
	}](t, body)
	pb.MP4, pb.HLS = n.HTTP+pb.MP4, n.HTTP+pb.HLS
	if c := probeCodecs(t, pb.MP4); len(c) != 1 || c[0] != "hevc" {
		t.Errorf("playback.mp4 codecs %v, want hevc", c)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", pb.HLS, "-f", "null", "-").CombinedOutput(); err != nil {
		t.Errorf("ffmpeg cannot play the H.265 VOD playlist: %v %s", err, out)
	}
	if c := probeCodecs(t, pb.HLS); !hasCodec(c, "hevc") {
		t.Errorf("HLS VOD codecs %v, want hevc", c)
	}

	st, hdr, jpg := n.Do("GET", "/v1/devices/hevc-1/channels/1/snapshot.jpg", "", "")
	if st != 200 || hdr.Get("Content-Type") != "image/jpeg" || len(jpg) < 1000 {
		t.Errorf("snapshot of the H.265 keyframe: %d %s, %d bytes", st, hdr.Get("Content-Type"), len(jpg))
	}

	// a clip task exports the recorded H.265 as it is (stream copy)
	tk := submitTask(t, n, "", clipBody("hevc-1", start.Add(time.Second), start.Add(6*time.Second), ""))
	tk = waitTask(t, n, tk.ID, time.Minute, func(x taskJSON) bool { return x.State == "succeeded" || x.State == "failed" })
	if tk.State != "succeeded" {
		t.Fatalf("H.265 clip task: %+v", tk)
	}
	if c := probeCodecs(t, taskResult(t, n, tk, "clip.mp4")); len(c) != 1 || c[0] != "hevc" {
		t.Errorf("H.265 clip codecs %v, want hevc", c)
	}
}

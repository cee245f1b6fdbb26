package e2e

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/whep/whepclient"
	probe "github.com/argus-vms/argus/test/ffprobe"
	"github.com/argus-vms/argus/test/testenv"
)

// probeCodecs lists the codec of every stream ffprobe finds at u.
func probeCodecs(t *testing.T, u string, args ...string) []string {
	t.Helper()
	var out []string
	for _, s := range probe.Streams(t, u, args...) {
		out = append(out, s.Codec)
	}
	return out
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
		testenv.NodeOptions{Args: []string{"--worker-slots", "2", "--idle-timeout", "3s"}})

	live := liveURLs(t, n, "hevc-1", 1, "")
	if c := probeCodecs(t, live.RTSP, "-rtsp_transport", "tcp"); !hasCodec(c, "hevc") || !hasCodec(c, "aac") {
		t.Errorf("live RTSP codecs %v, want hevc and aac", c)
	}
	if c := probeCodecs(t, live.HLS); !hasCodec(c, "hevc") {
		t.Errorf("live HLS codecs %v, want hevc", c)
	}

	var pb struct{ MP4, HLS string }
	pb.MP4, pb.HLS = playbackURLs(t, n, "hevc-1", start, start.Add(10*time.Second))
	if c := probeCodecs(t, pb.MP4); len(c) != 2 || c[0] != "hevc" || c[1] != "aac" {
		t.Errorf("playback.mp4 codecs %v, want hevc and aac", c)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", pb.HLS, "-f", "null", "-").CombinedOutput(); err != nil {
		t.Errorf("ffmpeg cannot play the H.265 VOD playlist: %v %s", err, out)
	}
	if c := probeCodecs(t, pb.HLS); !hasCodec(c, "hevc") || !hasCodec(c, "aac") {
		t.Errorf("HLS VOD codecs %v, want hevc and aac", c)
	}

	st, hdr, jpg := n.Do("GET", "/v1/devices/hevc-1/channels/1/snapshot.jpg", "", "")
	if st != 200 || hdr.Get("Content-Type") != "image/jpeg" || len(jpg) < 1000 {
		t.Errorf("snapshot of the H.265 keyframe: %d %s, %d bytes", st, hdr.Get("Content-Type"), len(jpg))
	}

	// a clip task exports the recorded H.265 as it is (stream copy)
	if c := clipCodecs(t, n, "hevc-1", start.Add(time.Second), start.Add(6*time.Second)); len(c) != 2 || c[0] != "hevc" || c[1] != "aac" {
		t.Errorf("H.265 clip codecs %v, want hevc and aac", c)
	}

	// playback.m3u8?codec=h264: one transcode of the range (a worker
	// slot), shared by its viewers, playing as soon as its first segment is
	// up
	t1 := time.Now()
	loc := playbackH264(t, pb.HLS)
	t.Logf("playback ?codec=h264: redirected after %v", time.Since(t1).Round(time.Millisecond))
	if again := playbackH264(t, pb.HLS); strings.Split(again, "?")[0] != strings.Split(loc, "?")[0] {
		t.Errorf("a second viewer of the range got %s, the first %s: two transcodes", again, loc)
	}
	if c := probeCodecs(t, n.HTTP+loc); !hasCodec(c, "h264") || !hasCodec(c, "aac") || hasCodec(c, "hevc") {
		t.Errorf("playback ?codec=h264 codecs %v, want h264 and aac", c)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", n.HTTP+loc, "-f", "null", "-").CombinedOutput(); err != nil {
		t.Errorf("ffmpeg cannot play the transcoded playback: %v %s", err, out)
	}

	// ?codec=h264: one live transcode on a worker slot serves RTSP, HLS
	// and WebRTC readers, and stops once they are gone
	st, _, body := n.Do("GET", "/v1/devices/hevc-1/channels/1/live?codec=h264", "", "")
	if st != 200 {
		t.Fatalf("live ?codec=h264: %d %s", st, body)
	}
	h264 := decode[struct {
		RTSP   string `json:"rtsp_url"`
		HLS    string `json:"hls_url"`
		WebRTC string `json:"webrtc_url"`
	}](t, body)
	t0 := time.Now()
	if c := probeCodecs(t, h264.RTSP, "-rtsp_transport", "tcp"); !hasCodec(c, "h264") || hasCodec(c, "hevc") {
		t.Fatalf("?codec=h264 RTSP codecs %v, want h264", c)
	}
	t.Logf("?codec=h264: RTSP answered with the transcode in %v", time.Since(t0).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := whepclient.Dial(ctx, h264.WebRTC)
	if err != nil {
		t.Fatalf("WebRTC of the H.264 rendition: %v", err)
	}
	select {
	case <-w.FirstFrame():
	case <-ctx.Done():
		t.Fatal("WebRTC of the H.264 rendition: no frame")
	}
	if c := probeCodecs(t, h264.HLS); !hasCodec(c, "h264") {
		t.Errorf("?codec=h264 HLS codecs %v, want h264", c)
	}
	transcodes := func(state string) int { // queued and running tasks are served without ClickHouse
		_, _, b := n.Do("GET", "/v1/tasks?device=hevc-1&state="+state, "", "")
		k := 0
		for _, x := range decode[struct {
			Items []taskJSON `json:"items"`
		}](t, b).Items {
			if x.Type == "live_transcode" {
				k++
			}
		}
		return k
	}
	if k := transcodes("running"); k != 1 {
		t.Errorf("%d live transcodes running for three readers, want 1", k)
	}
	w.Close()
	waitFor(t, "the live transcode ended once its readers left", 60*time.Second, func() bool {
		return transcodes("running") == 0
	})
}

// playbackH264 asks for playback.m3u8?codec=h264 (hls: the playback URL)
// of a range recorded in H.265 and returns where it redirects.
func playbackH264(t *testing.T, hls string) string {
	t.Helper()
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(hls + "&codec=h264")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/vod/") {
		t.Fatalf("playback.m3u8?codec=h264: %d, Location %q, %s", resp.StatusCode, loc, b)
	}
	return loc
}

// clipCodecs runs a clip task over [from, to) and lists the codecs of
// its MP4.
func clipCodecs(t *testing.T, n *testenv.Node, dev string, from, to time.Time) []string {
	t.Helper()
	tk := submitTask(t, n, "", clipBody(dev, from, to, ""))
	tk = waitTask(t, n, tk.ID, time.Minute, func(x taskJSON) bool { return x.State == "succeeded" || x.State == "failed" })
	if tk.State != "succeeded" {
		t.Fatalf("clip task: %+v", tk)
	}
	return probeCodecs(t, taskResult(t, n, tk, "clip.mp4"))
}

// playbackURLs asks for the playback URLs of [from, to) (absolute).
func playbackURLs(t *testing.T, n *testenv.Node, dev string, from, to time.Time) (mp4, hls string) {
	t.Helper()
	q := "start=" + url.QueryEscape(from.UTC().Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(to.UTC().Format(time.RFC3339Nano))
	st, _, body := n.Do("GET", "/v1/devices/"+dev+"/channels/1/playback?"+q, "", "")
	if st != 200 {
		t.Fatalf("playback URLs: %d %s", st, body)
	}
	pb := decode[struct {
		MP4 string `json:"mp4_url"`
		HLS string `json:"hls_url"`
	}](t, body)
	return n.HTTP + pb.MP4, n.HTTP + pb.HLS
}

// TestAudioCamera: a camera with G.711 audio through a node: live RTSP,
// the recordings, playback.mp4 and HLS VOD carry it as is; a clip task
// exports it as AAC; a plan with "audio": false records the video alone.
func TestAudioCamera(t *testing.T) {
	t.Parallel()
	testenv.NeedFFmpeg(t, "audio end to end")
	n, start := recordingNodeCam(t, "alaw-1", 12*time.Second, fakecam.Options{Audio: fakecam.AudioPCMA},
		testenv.NodeOptions{Args: []string{"--worker-slots", "2"}})

	live := liveURLs(t, n, "alaw-1", 1, "")
	if c := probeCodecs(t, live.RTSP, "-rtsp_transport", "tcp"); !hasCodec(c, "h264") || !hasCodec(c, "pcm_alaw") {
		t.Errorf("live RTSP codecs %v, want h264 and pcm_alaw", c)
	}
	mp4, hls := playbackURLs(t, n, "alaw-1", start, start.Add(10*time.Second))
	ss := probe.Streams(t, mp4)
	v, okv := probe.Of(ss, "video")
	a, oka := probe.Of(ss, "audio")
	if len(ss) != 2 || !okv || !oka || v.Codec != "h264" || a.Codec != "pcm_alaw" || a.SampleRate != 8000 {
		t.Fatalf("playback.mp4 streams %+v, want h264 and pcm_alaw 8 kHz", ss)
	}
	if math.Abs(a.StartTime+a.Duration-(v.StartTime+v.Duration)) > 0.2 {
		t.Errorf("playback.mp4: audio %.3f+%.3f s, video %.3f+%.3f s", a.StartTime, a.Duration, v.StartTime, v.Duration)
	}
	if c := probeCodecs(t, hls); !hasCodec(c, "h264") || !hasCodec(c, "pcm_alaw") {
		t.Errorf("HLS VOD codecs %v, want h264 and pcm_alaw", c)
	}
	// recorded in H.264 already: ?codec=h264 is the playlist as recorded
	if st, _, b := n.Do("GET", strings.TrimPrefix(hls, n.HTTP)+"&codec=h264", "-", ""); st != 200 || !strings.HasPrefix(string(b), "#EXTM3U") {
		t.Errorf("playback.m3u8?codec=h264 of an H.264 recording: %d %.200s", st, b)
	}
	if st, _, b := n.Do("GET", strings.TrimPrefix(hls, n.HTTP)+"&codec=vp9", "-", ""); st != 400 || !strings.Contains(string(b), `"codec"`) {
		t.Errorf("playback.m3u8?codec=vp9: %d %s, want 400 naming codec", st, b)
	}
	if c := clipCodecs(t, n, "alaw-1", start.Add(time.Second), start.Add(6*time.Second)); len(c) != 2 || c[0] != "h264" || c[1] != "aac" {
		t.Errorf("clip codecs %v, want h264 and aac (G.711 converted for MP4 players)", c)
	}

	// audio off: the recorder restarts with the video alone
	st, _, body := n.Do("PUT", "/v1/devices/alaw-1/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10,"audio":false}`)
	if st != 200 || !strings.Contains(string(body), `"audio":false`) {
		t.Fatalf("plan audio off: %d %s", st, body)
	}
	changed := time.Now()
	var item string
	waitFor(t, "a recording started after audio was turned off", 40*time.Second, func() bool {
		st, _, b := n.Do("GET", "/v1/recordings?device=alaw-1&channel=1&from="+url.QueryEscape(changed.UTC().Format(time.RFC3339Nano)), "", "")
		if st != 200 {
			return false
		}
		for _, it := range decode[recordingsJSON](t, b).Items {
			if s, _ := time.Parse(time.RFC3339Nano, it.Start); s.After(changed) {
				item = it.Start
				return true
			}
		}
		return false
	})
	s, _ := time.Parse(time.RFC3339Nano, item)
	mp4, _ = playbackURLs(t, n, "alaw-1", s, s.Add(5*time.Second))
	if ss := probe.Streams(t, mp4); len(ss) != 1 || ss[0].Type != "video" {
		t.Errorf("recorded with audio off: streams %+v, want the video alone", ss)
	}
}

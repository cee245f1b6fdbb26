package relay

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	probe "github.com/argus-vms/argus/test/ffprobe"
	"github.com/argus-vms/argus/test/testenv"
)

// TestH265WithAudio: an H.265 camera with AAC goes through the relay to
// RTSP readers (both tracks), HLS (fMP4 variant), video subscribers (from
// a random access point with VPS/SPS/PPS), audio subscribers and the
// keyframe — read by ffprobe, a real client.
func TestH265WithAudio(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{Codec: fakecam.CodecH265, Audio: fakecam.AudioAAC, Width: 320, Height: 180})
	st := n.ready(Key{Device: "cam1", Channel: 1})
	if c, ok := st.VideoCodec(); !ok || c != CodecH265 {
		t.Fatalf("VideoCodec %q %v, want h265", c, ok)
	}
	if a, ok := st.Audio(); !ok || a.Codec != AudioAAC || a.ClockRate != 48000 || a.AAC == nil {
		t.Fatalf("Audio %+v %v, want AAC 48 kHz with its config", a, ok)
	}

	// RTSP: both tracks
	out, stderr, err := ffprobe(t, n.url("/live/cam1/1", "token=ok"), "-rtsp_transport", "tcp")
	if err != nil {
		t.Fatalf("ffprobe RTSP: %v\n%s", err, stderr)
	}
	codecs := map[string]bool{}
	for _, s := range out.Streams {
		codecs[s.CodecName] = true
		if s.CodecName == "hevc" && (s.Width != 320 || s.Height != 180) {
			t.Errorf("hevc %dx%d, want 320x180", s.Width, s.Height)
		}
	}
	if !codecs["hevc"] || !codecs["aac"] {
		t.Fatalf("RTSP streams %+v, want hevc and aac", out.Streams)
	}

	// subscribers
	var mu sync.Mutex
	var frames []Frame
	var audio []AudioFrame
	unsubV := st.SubscribeVideo(func(f Frame) { mu.Lock(); frames = append(frames, f); mu.Unlock() })
	unsubA := st.SubscribeAudio(func(f AudioFrame) { mu.Lock(); audio = append(audio, f); mu.Unlock() })
	testenv.WaitFor(t, 10*time.Second, "1 s of video and audio", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(frames) >= 25 && len(audio) >= 20
	})
	unsubV()
	unsubA()
	mu.Lock()
	f0 := frames[0]
	if !f0.Random || f0.Codec != CodecH265 {
		t.Errorf("first frame: random %v codec %q", f0.Random, f0.Codec)
	}
	if vps, sps, pps := H265Params(f0.NALUs); vps == nil || sps == nil || pps == nil {
		t.Errorf("first frame lacks parameter sets: %d NALUs", len(f0.NALUs))
	}
	for i := 1; i < len(audio); i++ {
		if d := audio[i].PTS - audio[i-1].PTS; d <= 0 || d > 500*time.Millisecond {
			t.Fatalf("audio PTS step %v at %d", d, i)
		}
		if audio[i].Codec != AudioAAC || len(audio[i].Frames) == 0 {
			t.Fatalf("audio frame %d: %+v", i, audio[i])
		}
	}
	mu.Unlock()

	if kf, ok := st.Keyframe(); !ok || kf.Codec != CodecH265 || len(kf.AnnexB) == 0 {
		t.Errorf("Keyframe: ok %v codec %q", ok, kf.Codec)
	}

	// HLS: fMP4 segments carry H.265 and the AAC
	checkHLSAudio(t, st, "hevc", "aac")
}

// checkHLSAudio reads st's live HLS with ffprobe: its video and audio
// streams have the codecs wanted, on one timeline.
func checkHLSAudio(t *testing.T, st *Stream, video, audio string) {
	t.Helper()
	hs := httptest.NewServer(http.StripPrefix("/hls/", st.HLSHandler()))
	defer hs.Close()
	ss := probe.Streams(t, hs.URL+"/hls/index.m3u8")
	v, okv := probe.Of(ss, "video")
	a, oka := probe.Of(ss, "audio")
	if !okv || !oka || v.Codec != video || a.Codec != audio {
		t.Fatalf("HLS streams %+v, want %s and %s", ss, video, audio)
	}
	// the muxer starts on the cached GOP (fakecam: 1 s), the audio live
	if d := a.StartTime - v.StartTime; d < -0.1 || d > 1.2 {
		t.Errorf("HLS: audio starts at %.3f s, video at %.3f s", a.StartTime, v.StartTime)
	}
}

// TestHLSAudio: live HLS carries AAC next to H.264 in MPEG-TS, Opus in
// fMP4 (MPEG-TS HLS has no Opus).
func TestHLSAudio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ audio, codec string }{{fakecam.AudioAAC, "aac"}, {fakecam.AudioOpus, "opus"}} {
		t.Run(tc.audio, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, fakecam.Options{Audio: tc.audio, Width: 320, Height: 180})
			checkHLSAudio(t, n.ready(Key{Device: "cam1", Channel: 1}), "h264", tc.codec)
		})
	}
}

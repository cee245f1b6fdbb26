package fakecam

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// These tests use 320x180 (the size the view tests share), so the H264
// clip is cached already; the H265 clip, its view and each tone are one
// encode each, cached in os.TempDir() for the next run.

type probedStream struct {
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	SampleRate string `json:"sample_rate"`
}

// probeStreams is ffprobe -show_streams over RTSP/TCP: every media of url.
func probeStreams(t *testing.T, url string) []probedStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-v", "error",
		"-rtsp_transport", "tcp", "-show_streams", "-of", "json", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, stderr.String())
	}
	var res struct {
		Streams []probedStream `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("ffprobe output %q: %v", stdout.String(), err)
	}
	return res.Streams
}

func TestH265(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Codec: "h265", Width: viewW, Height: viewH, Paths: []string{"plain", "ptz"}})
	streams := probeStreams(t, c.URL("plain"))
	if len(streams) != 1 || streams[0].CodecName != "hevc" || streams[0].Width != viewW || streams[0].Height != viewH {
		t.Fatalf("ffprobe: streams %+v, want one hevc %dx%d", streams, viewW, viewH)
	}

	// Views work as with H264: the view clip is H265 too and decodes,
	// and shows another picture than the default clip.
	v := View{Pan: 0.5, Tilt: -0.25}
	c.SetView("ptz", v)
	waitShown(t, c, "ptz", v)
	// ffmpeg's HEVC decoder outputs the frames before a reader's first
	// IDR too (grey, from missing references): look past one GOP.
	view := grab(t, c.URL("ptz"), 27)[26]
	base := grab(t, c.URL("plain"), 27)[26]
	if d := mad(view, base, still); d < 12 {
		t.Errorf("an H265 view and the default clip differ by only %.2f", d)
	}
}

func TestAudioCodecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		audio, codec, rate string
	}{
		{"aac", "aac", "48000"},
		{"pcma", "pcm_alaw", "8000"},
		{"pcmu", "pcm_mulaw", "8000"},
		{"opus", "opus", "48000"},
	} {
		t.Run(tc.audio, func(t *testing.T) {
			t.Parallel()
			c := startCam(t, Options{Audio: tc.audio, Width: viewW, Height: viewH})
			streams := probeStreams(t, c.URL("cam1"))
			if len(streams) != 2 {
				t.Fatalf("ffprobe: streams %+v, want video and audio", streams)
			}
			v, a := streams[0], streams[1]
			if v.CodecType != "video" || v.CodecName != "h264" || v.Width != viewW || v.Height != viewH {
				t.Errorf("video stream %+v, want h264 %dx%d", v, viewW, viewH)
			}
			if a.CodecType != "audio" || a.CodecName != tc.codec || a.SampleRate != tc.rate {
				t.Errorf("audio stream %+v, want %s at %s Hz", a, tc.codec, tc.rate)
			}
		})
	}
}

// TestAudioFrameTiming checks the tones' frames without a reader: each
// codec's loop is whole frames of whole video loops, and the schedule
// (at, rtpTime) is exact far into the stream.
func TestAudioFrameTiming(t *testing.T) {
	t.Parallel()
	for _, codec := range []string{AudioAAC, AudioPCMA, AudioPCMU, AudioOpus} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a, err := loadAudio(ctx, codec)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		s := a.spec
		if a.loop%clipSeconds != 0 || len(a.frames)*s.frameSamples != a.loop*s.sampleRate {
			t.Errorf("%s: %d frames of %d samples for a %d s loop at %d Hz", codec, len(a.frames), s.frameSamples, a.loop, s.sampleRate)
		}
		per := int64(len(a.frames))
		if got, want := a.at(per*1000), time.Duration(a.loop)*1000*time.Second; got != want {
			t.Errorf("%s: loop 1000 due at %v, want %v", codec, got, want)
		}
		if got, want := a.at(per*1000+1)-a.at(per*1000), time.Duration(s.frameSamples)*time.Second/time.Duration(s.sampleRate); got != want {
			t.Errorf("%s: frame step %v, want %v", codec, got, want)
		}
		if d := a.rtpTime(7, per) - 7; int(d) != a.loop*s.sampleRate {
			t.Errorf("%s: RTP time of a loop %d, want %d", codec, d, a.loop*s.sampleRate)
		}
		t.Logf("%s: %d frames, a %d s loop", codec, per, a.loop)
	}
}

// streamSpan is the first and last presentation time (seconds) of one
// stream in ffmpeg's framecrc output, and its frame count.
type streamSpan struct {
	first, last float64
	frames      int
}

// TestH265AACReadByFFmpeg: ffmpeg decodes 3 s of an H265+AAC camera;
// video and audio cover the same time.
func TestH265AACReadByFFmpeg(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Codec: "h265", Audio: "aac", Width: viewW, Height: viewH})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// framecrc is -f null that says what it got: a line a decoded frame
	// (stream, dts, pts, duration, size, checksum) in each stream's time base.
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-nostdin",
		"-rtsp_transport", "tcp", "-i", c.URL("cam1"), "-t", "3", "-f", "framecrc", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		// Joining mid-GOP, the HEVC decoder misses the references of
		// the frames before the first IDR.
		t.Logf("ffmpeg said:\n%s", s)
	}
	tb := map[int]float64{}
	spans := map[int]*streamSpan{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#tb "); ok {
			var i, num, den int
			if _, err := fmt.Sscanf(rest, "%d: %d/%d", &i, &num, &den); err != nil {
				t.Fatalf("time base line %q: %v", line, err)
			}
			tb[i] = float64(num) / float64(den)
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 4 {
			t.Fatalf("framecrc line %q", line)
		}
		i, err1 := strconv.Atoi(strings.TrimSpace(f[0]))
		pts, err2 := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		dur, err3 := strconv.ParseInt(strings.TrimSpace(f[3]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("framecrc line %q", line)
		}
		start, end := float64(pts)*tb[i], float64(pts+dur)*tb[i]
		s := spans[i]
		if s == nil {
			s = &streamSpan{first: start}
			spans[i] = s
		}
		s.last = max(s.last, end)
		s.frames++
	}
	v, a := spans[0], spans[1]
	if v == nil || a == nil {
		t.Fatalf("streams %v in ffmpeg's output, want video (0) and audio (1)", spans)
	}
	vd, ad := v.last-v.first, a.last-a.first
	t.Logf("video: %d frames %.3f..%.3f s (%.3f s); audio: %d frames %.3f..%.3f s (%.3f s)",
		v.frames, v.first, v.last, vd, a.frames, a.first, a.last, ad)
	if vd < 2.5 || ad < 2.5 {
		t.Errorf("video %.3f s, audio %.3f s: want about 3 s of each", vd, ad)
	}
	if math.Abs(vd-ad) > 0.5 || math.Abs(v.first-a.first) > 0.5 {
		t.Errorf("video %.3f..%.3f s and audio %.3f..%.3f s disagree by more than 0.5 s", v.first, v.last, a.first, a.last)
	}
}

// TestAudioVideoOneClock plays video and G.711 audio with a gortsplib
// client: audio packets come every 20 ms with RTP time +160, and the
// RTCP sender reports map both media onto the same wall clock (arrival
// minus NTP time agrees between them).
func TestAudioVideoOneClock(t *testing.T) {
	t.Parallel()
	c := startCam(t, Options{Audio: AudioPCMU, Width: viewW, Height: viewH})
	u, err := base.ParseURL(c.URL("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.ProtocolTCP
	cl := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	desc, _, err := cl.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Medias) != 2 || desc.Medias[0].Type != description.MediaTypeVideo || desc.Medias[1].Type != description.MediaTypeAudio {
		t.Fatalf("medias %+v, want video and audio", desc.Medias)
	}
	if g, ok := desc.Medias[1].Formats[0].(*format.G711); !ok || !g.MULaw || g.SampleRate != 8000 || g.PayloadTyp != 0 {
		t.Fatalf("audio format %#v, want G.711 µ-law 8 kHz, payload type 0", desc.Medias[1].Formats[0])
	}
	if err := cl.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		lag      [2][]time.Duration // arrival - NTP time, per media
		audioN   int
		lastA    *rtp.Packet
		failures []string
	)
	cl.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		i := 0
		if medi == desc.Medias[1] {
			i = 1
			if lastA != nil && (pkt.Timestamp-lastA.Timestamp != 160 || pkt.SequenceNumber != lastA.SequenceNumber+1) && len(failures) < 5 {
				failures = append(failures, fmt.Sprintf("audio packet after ts %d seq %d: ts %d seq %d",
					lastA.Timestamp, lastA.SequenceNumber, pkt.Timestamp, pkt.SequenceNumber))
			}
			if len(pkt.Payload) != 160 && len(failures) < 5 {
				failures = append(failures, fmt.Sprintf("audio payload of %d bytes, want 160", len(pkt.Payload)))
			}
			lastA = pkt
			audioN++
		}
		if ntp, ok := cl.PacketNTP(medi, pkt); ok {
			lag[i] = append(lag[i], now.Sub(ntp))
		}
	})
	if _, err := cl.Play(nil); err != nil {
		t.Fatal(err)
	}
	const d = 2 * time.Second
	time.Sleep(d)
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Error(f)
	}
	if rate := float64(audioN) / d.Seconds(); rate < 45 || rate > 55 {
		t.Errorf("%.1f audio packets/s, want 50", rate)
	}
	median := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			t.Fatal("no packet with an NTP time (no RTCP sender report?)")
		}
		ds = append([]time.Duration(nil), ds...)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	vl, al := median(lag[0]), median(lag[1])
	t.Logf("arrival - NTP time: video %v, audio %v (medians of %d and %d packets)", vl, al, len(lag[0]), len(lag[1]))
	if diff := vl - al; diff > 20*time.Millisecond || diff < -20*time.Millisecond {
		t.Errorf("video and audio disagree on the clock by %v", diff)
	}
}

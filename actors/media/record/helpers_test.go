package record

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/pull"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
)

// feed is the camera pull feeding a relay stream, as the stream actor does.
type feed struct{ st *relay.Stream }

func (f feed) OnConnected(desc *description.Session)           { f.st.SetSource(desc) }
func (f feed) OnPacket(m *description.Media, p *rtp.Packet)    { f.st.WritePacket(m, p) }
func (f feed) OnDisconnected(err error, retryIn time.Duration) { f.st.SetSource(nil) }
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startCam(t testing.TB, o fakecam.Options) *fakecam.Camera {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cam, err := fakecam.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// startRelay pulls url into a new relay stream and waits until it is ready.
func startRelay(t testing.TB, url string, device string) *relay.Stream {
	t.Helper()
	st := relay.NewStream(relay.Key{Device: device, Channel: 1})
	p := pull.Start(pull.Config{URL: url, MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}, feed{st})
	t.Cleanup(func() {
		p.Close()
		st.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// segments collects OnSegment calls.
type segments struct {
	mu   sync.Mutex
	list []Segment
}

func (s *segments) add(seg Segment) {
	s.mu.Lock()
	s.list = append(s.list, seg)
	s.mu.Unlock()
}

func (s *segments) get() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Segment(nil), s.list...)
}

type probeInfo struct {
	Codec     string
	Width     int
	Height    int
	StartTime float64
	Duration  float64 // format duration, seconds
}

// ffprobe reads a file with ffprobe.
func ffprobe(t testing.TB, file string) probeInfo {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json",
		"-show_entries", "format=duration:stream=codec_name,width,height,start_time", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", filepath.Base(file), err)
	}
	var res struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
			StartTime string `json:"start_time"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output: %v: %s", err, out)
	}
	if len(res.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d streams", filepath.Base(file), len(res.Streams))
	}
	var pi probeInfo
	pi.Codec = res.Streams[0].CodecName
	pi.Width, pi.Height = res.Streams[0].Width, res.Streams[0].Height
	pi.StartTime, _ = strconv.ParseFloat(res.Streams[0].StartTime, 64)
	pi.Duration, err = strconv.ParseFloat(res.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe %s: no duration (%q)", filepath.Base(file), res.Format.Duration)
	}
	return pi
}

// decodeClean decodes the whole file with ffmpeg and fails on any message.
func decodeClean(t testing.TB, file string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", file, "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("ffmpeg decode of %s: %v: %s", filepath.Base(file), err, stderr.String())
	}
}

var keyRE = regexp.MustCompile(`^([a-z0-9~_-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{6}\.\d{3})-[a-z0-9]{8}\.mp4$`)

// fetch copies an object out of a storage into a local file.
func fetch(t testing.TB, st storage.Storage, key string) string {
	t.Helper()
	r, size, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	file := filepath.Join(t.TempDir(), filepath.Base(key))
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, r)
	f.Close()
	if err != nil || n != size {
		t.Fatalf("download %s: %d of %d bytes: %v", key, n, size, err)
	}
	return file
}

// checkSegment checks one published segment against its OnSegment report
// and plays it; it returns the ffprobe view.
func checkSegment(t testing.TB, st storage.Storage, seg Segment, prefix string) probeInfo {
	t.Helper()
	m := keyRE.FindStringSubmatch(seg.Key)
	if m == nil || m[1] != prefix {
		t.Errorf("segment key %q does not match %s/<YYYY>/<MM>/<DD>/<HHMMSS.mmm>-<id>.mp4", seg.Key, prefix)
	} else if want := seg.Start.UTC().Format("2006/01/02/150405.000"); strings.Join(m[2:6], "/") != want {
		t.Errorf("segment key %q does not encode its start %s", seg.Key, want)
	}
	file := fetch(t, st, seg.Key)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != seg.Bytes {
		t.Errorf("%s: OnSegment bytes %d, object is %d", seg.Key, seg.Bytes, fi.Size())
	}
	if d := seg.End.Sub(seg.Start) - time.Duration(seg.DurationMS)*time.Millisecond; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("%s: end-start %v vs duration_ms %d", seg.Key, seg.End.Sub(seg.Start), seg.DurationMS)
	}
	pi := ffprobe(t, file)
	if pi.Codec != "h264" {
		t.Errorf("%s: codec %q", seg.Key, pi.Codec)
	}
	if pi.StartTime < 0 || pi.StartTime > 0.1 {
		t.Errorf("%s: start_time %.3f, want near 0", seg.Key, pi.StartTime)
	}
	if d := pi.Duration*1000 - float64(seg.DurationMS); d < -50 || d > 50 {
		t.Errorf("%s: ffprobe duration %.3f s vs duration_ms %d", seg.Key, pi.Duration, seg.DurationMS)
	}
	decodeClean(t, file)
	return pi
}

// checkRecoverable: crash recovery's inspection reads the whole
// published file as sound fragments.
func checkRecoverable(t testing.TB, key, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	end, ticks, frags := inspect(bytes.NewReader(b), int64(len(b)))
	if end != int64(len(b)) || frags == 0 || ticks <= 0 {
		t.Errorf("%s: recovery inspection ends at %d of %d bytes, %d fragments, %d ticks", key, end, len(b), frags, ticks)
	}
}

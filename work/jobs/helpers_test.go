package jobs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/argus-vms/argus/actors/media/playback"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
)

// t0 is when the test recording starts: 2024-05-01 12:00:00 UTC.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// The recording every test reads: 25 s of testsrc2 (320x180, 25 fps, an
// IDR every second) recorded by the real recorder as cam1 channel 1 from
// t0: segments [t0, t0+10s), [t0+10s, t0+20s), [t0+20s, t0+25s).
var fx struct {
	once sync.Once
	dir  string
	st   *storage.Local
	segs []playback.Segment
	err  error
}

const recordSeconds = 25

func TestMain(m *testing.M) {
	code := m.Run()
	if fx.dir != "" {
		_ = os.RemoveAll(fx.dir)
	}
	os.Exit(code)
}

// auSource hands its access units to the recorder at once, timed as a
// 25 fps camera from base: recording 25 s takes no 25 s.
type auSource struct {
	aus  [][][]byte
	base time.Time
}

func (s auSource) SubscribeVideo(fn func(relay.Frame)) func() {
	for i, au := range s.aus {
		pts := time.Duration(i) * time.Second / 25
		fn(relay.Frame{Codec: relay.CodecH264, NALUs: au, PTS: pts, NTP: s.base.Add(pts), Random: h264.IsRandomAccess(au)})
	}
	return func() {}
}

// recording records the fixture once per test binary.
func recording(t testing.TB) {
	t.Helper()
	testenv.NeedFFmpeg(t, "the jobs tests")
	fx.once.Do(func() {
		// (a helper's t.Fatal leaves this error for the other tests)
		fx.err = errors.New("the first test failed to record it")
		aus := testenv.AccessUnits(t, testenv.EncodeH264(t, "testsrc2=s=320x180:r=25", recordSeconds))
		if fx.dir, fx.err = os.MkdirTemp("", "jobs-test-"); fx.err != nil {
			return
		}
		if fx.st, fx.err = storage.NewLocal(fx.dir); fx.err != nil {
			return
		}
		var mu sync.Mutex
		r, err := record.Start(record.Config{Key: "cam1~1", SegmentDuration: 10 * time.Second, Storage: fx.st,
			Backlog: len(aus), OnSegment: func(s record.Segment) {
				mu.Lock()
				fx.segs = append(fx.segs, playback.Segment{Key: s.Key, Start: s.Start, End: s.End, Bytes: s.Bytes})
				mu.Unlock()
			}}, auSource{aus: aus, base: t0})
		if err != nil {
			fx.err = err
			return
		}
		r.Stop()
		fx.err = nil
		if r.Dropped() != 0 || len(fx.segs) != 3 {
			fx.err = fmt.Errorf("recorded %d segments (%d access units dropped), want 3", len(fx.segs), r.Dropped())
		}
	})
	if fx.err != nil {
		t.Fatalf("recording the test segments: %v", fx.err)
	}
}

// testEnv is an Env over the fixture, writing results into out.
func testEnv(t testing.TB) (Env, *storage.Local) {
	t.Helper()
	recording(t)
	out, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Env{
		Segments: func(ctx context.Context, device string, channel int, from, to time.Time) ([]playback.Segment, error) {
			var segs []playback.Segment
			for _, s := range fx.segs {
				if device == "cam1" && channel == 1 && s.End.After(from) && s.Start.Before(to) {
					segs = append(segs, s)
				}
			}
			return segs, nil
		},
		Open:    fx.st.Open,
		Storage: out,
		TempDir: t.TempDir(),
	}, out
}

// spec is a task of cam1 channel 1 over [t0+from, t0+to) (to 0: none).
func spec(typ string, from, to time.Duration, p *pb.TaskParams) *pb.TaskSpec {
	s := &pb.TaskSpec{Type: typ, Device: "cam1", Channel: 1, FromUnixMs: t0.Add(from).UnixMilli(), Params: p}
	if to != 0 {
		s.ToUnixMs = t0.Add(to).UnixMilli()
	}
	if p == nil {
		s.Params = &pb.TaskParams{}
	}
	return s
}

// run runs a job that must succeed and checks what every run promises:
// progress within 0..1 and never going back, no scratch file left, the
// result's key published.
func run(t testing.TB, env Env, out *storage.Local, s *pb.TaskSpec) (*pb.TaskResult, string) {
	t.Helper()
	var progress []float64
	start := time.Now()
	res, err := Run(context.Background(), env, Job{ID: "t1", Spec: s}, func(p float64) { progress = append(progress, p) })
	if err != nil {
		t.Fatalf("Run %s: %v", s.Type, err)
	}
	t.Logf("%s: %v, progress %v", s.Type, time.Since(start).Round(time.Millisecond), progress)
	for i, p := range progress {
		if p < 0 || p > 1 || (i > 0 && p < progress[i-1]) {
			t.Errorf("progress %v", progress)
			break
		}
	}
	if left, _ := os.ReadDir(env.TempDir); len(left) != 0 {
		t.Errorf("scratch files left: %v", left)
	}
	path, err := out.Path(res.Key)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("result %s: %v", res.Key, err)
	}
	if s.Type != "transcode" && fi.Size() != res.Bytes {
		t.Errorf("result Bytes %d, file %d", res.Bytes, fi.Size())
	}
	return res, path
}

type probed struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func (p probed) duration(t testing.TB) float64 {
	t.Helper()
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe: no duration (%q)", p.Format.Duration)
	}
	return d
}

func ffprobe(t testing.TB, input string) probed {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_entries",
		"format=duration:stream=codec_type,codec_name,width,height,avg_frame_rate", input).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", input, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v: %s", err, out)
	}
	return p
}

// oneVideo checks that the input has exactly one stream, video of codec.
func oneVideo(t testing.TB, p probed, codec string) (width, height int) {
	t.Helper()
	if len(p.Streams) != 1 || p.Streams[0].CodecType != "video" || p.Streams[0].CodecName != codec {
		t.Fatalf("streams %+v, want one %s video", p.Streams, codec)
	}
	return p.Streams[0].Width, p.Streams[0].Height
}

// decodeClean decodes the whole input with ffmpeg and fails on any
// message.
func decodeClean(t testing.TB, input string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", input, "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("decoding %s: %v: %s", input, err, stderr.String())
	}
}

// topBoxes lists the top-level boxes of an MP4 file.
func topBoxes(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var boxes []string
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size == 1 && off+16 <= len(b) {
			size = int(binary.BigEndian.Uint64(b[off+8:]))
		}
		boxes = append(boxes, string(b[off+4:off+8]))
		if size < 8 {
			t.Fatalf("box %q at %d: size %d", b[off+4:off+8], off, size)
		}
		off += size
	}
	return boxes
}

// grayFrame decodes one frame with ffmpeg (args: the input and its
// options) to 8-bit gray pixels.
func grayFrame(t testing.TB, vf string, args ...string) []byte {
	t.Helper()
	if vf != "" {
		vf += ","
	}
	full := append([]string{"-nostdin", "-v", "error"}, args...)
	full = append(full, "-frames:v", "1", "-vf", vf+"format=gray", "-f", "rawvideo", "-")
	cmd := exec.Command("ffmpeg", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v: %s", strings.Join(full, " "), err, stderr.String())
	}
	return out
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

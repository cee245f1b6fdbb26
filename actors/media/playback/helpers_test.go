package playback

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

func open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	return fx.st.Open(ctx, key)
}

func dur(s Segment) time.Duration { return s.End.Sub(s.Start) }

func sum(segs ...Segment) time.Duration {
	var d time.Duration
	for _, s := range segs {
		d += dur(s)
	}
	return d
}

type probeInfo struct {
	Codec     string
	Width     int
	StartTime float64
	Duration  float64 // format duration, seconds
}

// ffprobe reads a file or URL with ffprobe.
func ffprobe(t testing.TB, input string) probeInfo {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json",
		"-show_entries", "format=duration:stream=codec_name,width,start_time", input).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", input, err)
	}
	var res struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
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
		t.Fatalf("ffprobe %s: %d streams", input, len(res.Streams))
	}
	var pi probeInfo
	pi.Codec, pi.Width = res.Streams[0].CodecName, res.Streams[0].Width
	pi.StartTime, _ = strconv.ParseFloat(res.Streams[0].StartTime, 64)
	pi.Duration, err = strconv.ParseFloat(res.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe %s: no duration (%q)", input, res.Format.Duration)
	}
	return pi
}

// decodeClean decodes the whole input with ffmpeg and fails on any
// message.
func decodeClean(t testing.TB, input string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", input, "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("ffmpeg decode of %s: %v: %s", input, err, stderr.String())
	}
}

// frames counts the decoded video frames of an input.
func frames(t testing.TB, input string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", input).Output()
	if err != nil {
		t.Fatalf("ffprobe -count_frames %s: %v", input, err)
	}
	// HLS: the stream is listed under its program too
	first, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	n, err := strconv.Atoi(string(bytes.TrimSpace(first)))
	if err != nil {
		t.Fatalf("ffprobe -count_frames %s: %q", input, out)
	}
	return n
}

// readAll reads a whole File and checks its size.
func readAll(t testing.TB, f *File) []byte {
	t.Helper()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != f.Size() {
		t.Fatalf("read %d bytes, Size() %d", len(b), f.Size())
	}
	return b
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func object(t testing.TB, key string) []byte {
	t.Helper()
	p, err := fx.st.Path(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parsed is an fMP4 file split into its init and its fragments.
type parsed struct {
	init     fmp4.Init
	initSize int
	parts    fmp4.Parts
}

func parseFMP4(t testing.TB, b []byte) parsed {
	t.Helper()
	var p parsed
	if err := p.init.Unmarshal(bytes.NewReader(b)); err != nil {
		t.Fatalf("init: %v", err)
	}
	// the init is ftyp+moov: the first moof follows
	i := bytes.Index(b, []byte("moof"))
	if i < 4 {
		t.Fatal("no moof")
	}
	p.initSize = i - 4
	if err := p.parts.Unmarshal(b[p.initSize:]); err != nil {
		t.Fatalf("fragments: %v", err)
	}
	return p
}

// checkTimeline checks that sequence numbers run 1, 2, … and decode
// times from 0 without gaps; it returns the total duration in ticks.
func checkTimeline(t testing.TB, p parsed) uint64 {
	t.Helper()
	var next uint64
	for i, part := range p.parts {
		if part.SequenceNumber != uint32(i+1) {
			t.Errorf("fragment %d: sequence number %d", i, part.SequenceNumber)
		}
		if len(part.Tracks) != 1 {
			t.Fatalf("fragment %d: %d tracks", i, len(part.Tracks))
		}
		tr := part.Tracks[0]
		if tr.BaseTime != next {
			t.Errorf("fragment %d: decode time %d, want %d", i, tr.BaseTime, next)
		}
		for _, s := range tr.Samples {
			next += uint64(s.Duration)
		}
	}
	if len(p.parts) > 0 && p.parts[0].Tracks[0].Samples[0].IsNonSyncSample {
		t.Error("the output does not start with a keyframe")
	}
	return next
}

// samples returns every sample payload of the fragments, in order.
func samples(p parsed) [][]byte {
	var out [][]byte
	for _, part := range p.parts {
		for _, s := range part.Tracks[0].Samples {
			out = append(out, s.Payload)
		}
	}
	return out
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

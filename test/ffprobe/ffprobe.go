// Package ffprobe runs ffprobe for tests: the streams of a file, URL or
// RTSP source as ffprobe sees them. It imports nothing of Argus, so any
// package's tests can use it.
package ffprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Stream is one stream of the input.
type Stream struct {
	Type       string // video, audio
	Codec      string // h264, hevc, aac, opus, pcm_alaw, …
	Width      int
	Height     int
	SampleRate int
	StartTime  float64 // seconds
	Duration   float64 // seconds; 0 when ffprobe gives none (live sources)
}

// Streams lists input's streams (args go before the input:
// -rtsp_transport tcp, …). It fails the test when ffprobe fails.
func Streams(t testing.TB, input string, args ...string) []Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"-hide_banner", "-v", "error", "-of", "json",
		"-show_entries", "stream=codec_type,codec_name,width,height,sample_rate,start_time,duration"}, args...)
	cmd := exec.CommandContext(ctx, "ffprobe", append(argv, input)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, stderr.String())
	}
	var res struct {
		Streams []struct {
			Type       string `json:"codec_type"`
			Codec      string `json:"codec_name"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			SampleRate string `json:"sample_rate"`
			StartTime  string `json:"start_time"`
			Duration   string `json:"duration"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("ffprobe output %q: %v", stdout.String(), err)
	}
	out := make([]Stream, 0, len(res.Streams))
	for _, s := range res.Streams {
		st := Stream{Type: s.Type, Codec: s.Codec, Width: s.Width, Height: s.Height}
		st.SampleRate, _ = strconv.Atoi(s.SampleRate)
		st.StartTime, _ = strconv.ParseFloat(s.StartTime, 64)
		st.Duration, _ = strconv.ParseFloat(s.Duration, 64)
		out = append(out, st)
	}
	return out
}

// Of returns the first stream of type typ, ok false when there is none.
func Of(ss []Stream, typ string) (Stream, bool) {
	for _, s := range ss {
		if s.Type == typ {
			return s, true
		}
	}
	return Stream{}, false
}

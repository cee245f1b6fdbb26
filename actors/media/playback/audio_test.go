package playback

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/segfile"
	probe "github.com/argus-vms/argus/test/ffprobe"
)

// checkTracks checks that each track's decode times never go back
// across the fragments (a fragment starts at or after the previous one's
// end) and returns each track's end (ticks of its timescale) by track ID.
func checkTracks(t testing.TB, p parsed) map[int]uint64 {
	t.Helper()
	end := map[int]uint64{}
	for i, part := range p.parts {
		if part.SequenceNumber != uint32(i+1) {
			t.Errorf("fragment %d: sequence number %d", i, part.SequenceNumber)
		}
		for _, tr := range part.Tracks {
			if e, ok := end[tr.ID]; ok && tr.BaseTime < e {
				t.Errorf("fragment %d, track %d: decode time %d before the previous end %d", i, tr.ID, tr.BaseTime, e)
			}
			e := tr.BaseTime
			for _, s := range tr.Samples {
				e += uint64(s.Duration)
			}
			end[tr.ID] = e
		}
	}
	return end
}

// A range of recordings with audio: the MP4 has both tracks, each on a
// timeline that never goes back, in step with each other across the
// segment boundaries and from a start inside a segment; ffmpeg decodes it
// cleanly; the HLS VOD playlist carries the audio too.
func TestMP4Audio(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d0, d1 := fx.d[0], fx.d[1]
	for _, c := range []struct {
		name     string
		from, to time.Time
	}{
		{"all", d0.Start, fx.d[2].End},
		{"from inside the first", d0.Start.Add(3500 * time.Millisecond), d1.Start.Add(5 * time.Second)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := MP4(ctx, open, fx.d, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			full := readAll(t, f)
			p := parseFMP4(t, full)
			if len(p.init.Tracks) != 2 {
				t.Fatalf("init: %d tracks, want video and audio", len(p.init.Tracks))
			}
			end := checkTracks(t, p)
			v := ticksToDuration(end[segfile.VideoTrackID], 90000)
			a := ticksToDuration(end[segfile.AudioTrackID], p.init.Tracks[1].TimeScale)
			if (a - v).Abs() > 150*time.Millisecond {
				t.Errorf("audio ends at %v, video at %v", a, v)
			}
			file := writeTemp(t, "audio.mp4", full)
			ss := probe.Streams(t, file)
			vs, okv := probe.Of(ss, "video")
			as, oka := probe.Of(ss, "audio")
			if len(ss) != 2 || !okv || !oka || vs.Codec != "h264" || as.Codec != "aac" {
				t.Fatalf("streams %+v, want h264 and aac", ss)
			}
			if math.Abs(as.StartTime-vs.StartTime) > 0.1 {
				t.Errorf("audio starts at %.3f s, video at %.3f s", as.StartTime, vs.StartTime)
			}
			if want := f.Duration().Seconds(); math.Abs(vs.Duration-want) > 0.1 {
				t.Errorf("video lasts %.3f s, Duration %v", vs.Duration, f.Duration())
			}
			decodeClean(t, file)
		})
	}

	srv, _ := hlsServer(t, fx.d)
	ss := probe.Streams(t, srv.URL+"/index.m3u8?token=x")
	if as, ok := probe.Of(ss, "audio"); !ok || as.Codec != "aac" {
		t.Errorf("HLS VOD streams %+v, want an aac audio stream", ss)
	}
}

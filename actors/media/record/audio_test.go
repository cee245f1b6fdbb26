package record

import (
	"math"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/storage"
	probe "github.com/argus-vms/argus/test/ffprobe"
)

// TestRecordAudio: a camera with audio records segments with a video and
// an audio track (AAC and Opus as they come, G.711 as is) that ffmpeg
// decodes cleanly, audio and video spanning the same time; recovery
// reads them; Audio false records the video alone.
func TestRecordAudio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ audio, codec string }{
		{fakecam.AudioAAC, "aac"},
		{fakecam.AudioOpus, "opus"},
		{fakecam.AudioPCMA, "pcm_alaw"},
		{fakecam.AudioPCMU, "pcm_mulaw"},
	} {
		t.Run(tc.audio, func(t *testing.T) {
			t.Parallel()
			cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, Audio: tc.audio, Width: 320, Height: 180, Log: testLog(t)})
			src := startRelay(t, cam.URL("cam1"), "cam1")
			local, err := storage.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var segs, videoOnly segments
			r, err := Start(Config{Key: "cam1~1", SegmentDuration: MinSegmentDuration, Storage: local, OnSegment: segs.add, Audio: true, Log: testLog(t)}, src)
			if err != nil {
				t.Fatal(err)
			}
			rv, err := Start(Config{Key: "cam1~2", SegmentDuration: MinSegmentDuration, Storage: local, OnSegment: videoOnly.add, Log: testLog(t)}, src)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2*MinSegmentDuration + 2*time.Second)
			r.Stop()
			rv.Stop()
			got := segs.get()
			if len(got) < 2 {
				t.Fatalf("%d segments, want ≥ 2", len(got))
			}
			for i, seg := range got {
				file := fetch(t, local, seg.Key)
				ss := probe.Streams(t, file)
				if len(ss) != 2 || ss[0].Type != "video" || ss[0].Codec != "h264" || ss[1].Type != "audio" || ss[1].Codec != tc.codec {
					t.Fatalf("%s: streams %+v, want h264 video and %s audio", seg.Key, ss, tc.codec)
				}
				v, a := ss[0], ss[1]
				// the first segment's audio starts with the live audio, after
				// the cached GOP the recorder joined on
				if i > 0 && math.Abs(a.StartTime-v.StartTime) > 0.1 {
					t.Errorf("%s: audio starts at %.3f s, video at %.3f s", seg.Key, a.StartTime, v.StartTime)
				}
				if end := a.StartTime + a.Duration; math.Abs(end-(v.StartTime+v.Duration)) > 0.15 {
					t.Errorf("%s: audio ends at %.3f s, video at %.3f s", seg.Key, end, v.StartTime+v.Duration)
				}
				decodeClean(t, file)
				checkRecoverable(t, seg.Key, file)
			}
			for _, seg := range videoOnly.get() {
				if ss := probe.Streams(t, fetch(t, local, seg.Key)); len(ss) != 1 || ss[0].Type != "video" {
					t.Errorf("%s (audio off): streams %+v, want the video alone", seg.Key, ss)
				}
			}
		})
	}
}

// TestPreRollAudio: a recording started on a pre-roll (event recording)
// begins seconds in the past with its audio: both tracks start together
// at the pre-roll's keyframe and end together.
func TestPreRollAudio(t *testing.T) {
	t.Parallel()
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}, Audio: fakecam.AudioAAC, Width: 320, Height: 180, Log: testLog(t)})
	src := startRelay(t, cam.URL("cam1"), "cam1")
	pre := NewPreRoll(src, 3*time.Second)
	defer pre.Close()
	time.Sleep(4 * time.Second)
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var segs segments
	r, err := Start(Config{Key: "cam1~1", SegmentDuration: MinSegmentDuration, Storage: local, OnSegment: segs.add,
		Audio: true, Backlog: pre.Len(), Log: testLog(t)}, pre.From(time.Now().Add(-2*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	r.Stop()
	got := segs.get()
	if len(got) != 1 || got[0].DurationMS < 3500 {
		t.Fatalf("segments %+v, want one of ≥ 3.5 s (2 s of pre-roll and more)", got)
	}
	file := fetch(t, local, got[0].Key)
	ss := probe.Streams(t, file)
	v, okv := probe.Of(ss, "video")
	a, oka := probe.Of(ss, "audio")
	if !okv || !oka || a.Codec != "aac" {
		t.Fatalf("streams %+v, want video and aac", ss)
	}
	if math.Abs(a.StartTime-v.StartTime) > 0.1 || math.Abs(a.StartTime+a.Duration-(v.StartTime+v.Duration)) > 0.15 {
		t.Errorf("audio %.3f+%.3f s, video %.3f+%.3f s: want them together", a.StartTime, a.Duration, v.StartTime, v.Duration)
	}
	decodeClean(t, file)
}

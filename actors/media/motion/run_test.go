package motion

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	testenv.NeedFFmpeg(t, "motion detection")
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runClip plays aus at 25 fps through Run until the clip ends (plus
// after), and returns the events, when fn got them, and the source.
func runClip(t *testing.T, aus [][][]byte, cfg Config, o Options, after time.Duration) ([]Event, []time.Time, *clipSource) {
	t.Helper()
	src := newClipSource(aus)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.play(ctx)
	var rec recorder
	done := make(chan error, 1)
	if o.Log == nil {
		o.Log = testLog(t)
	}
	go func() { done <- Run(ctx, src, cfg, o, rec.add) }()
	<-src.done
	time.Sleep(after)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	evs, at := rec.get()
	for i, ev := range evs {
		t.Logf("event %d at +%v: %+v", i, at[i].Sub(src.sentAt(0)).Round(time.Millisecond), ev)
	}
	return evs, at, src
}

func TestRunStaticClipNoEvent(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	aus := testenv.AccessUnits(t, testenv.EncodeH264(t, testenv.MovingBox("40"), 4))
	evs, _, _ := runClip(t, aus, Config{Sensitivity: 0.8}, Options{}, 0)
	if len(evs) != 0 {
		t.Fatalf("static clip: %d events, want none: %+v", len(evs), evs)
	}
}

func TestRunMovingBox(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	// still for 2 s, moves right for 2 s, still until 7 s
	aus := testenv.AccessUnits(t, testenv.EncodeH264(t, testenv.MovingBox("40+150*clip(t-2,0,2)"), 7))
	cooldown := time.Second
	evs, at, src := runClip(t, aus, Config{Cooldown: cooldown}, Options{}, 0)
	if len(evs) != 2 || !evs[0].Start || evs[1].Start {
		t.Fatalf("events %+v, want a Start and an End", evs)
	}
	moveStart, moveEnd := src.sentAt(50), src.sentAt(100)
	if lat := at[0].Sub(moveStart); lat < 0 || lat > time.Second {
		t.Errorf("Start %v after the movement began, want within 1 s", lat)
	}
	if d := evs[0].Time.Sub(moveStart); d < 0 || d > time.Second {
		t.Errorf("Start.Time %v after the movement began", d)
	}
	// the Start's box lies where the box went in its first second (x 40
	// to 254, y 140..204), give or take a grid cell (10 px)
	b := evs[0].Box
	x0, x1, y0, y1 := b[0]*640, (b[0]+b[2])*640, b[1]*360, (b[1]+b[3])*360
	if b[2] <= 0 || b[3] <= 0 || x0 < 30 || x1 > 264 || y0 < 130 || y1 > 214 || y1-y0 < 40 {
		t.Errorf("Start box %v (x %.0f..%.0f, y %.0f..%.0f) is not where the box moved", b, x0, x1, y0, y1)
	}
	if evs[0].Score <= 0 || evs[1].Score < evs[0].Score {
		t.Errorf("scores %v, %v", evs[0].Score, evs[1].Score)
	}
	// End: the last changed frame (the movement's end) + cooldown
	if d := evs[1].Time.Sub(moveEnd.Add(cooldown)); d < -300*time.Millisecond || d > 700*time.Millisecond {
		t.Errorf("End.Time %v from the movement's end + cooldown", d)
	}
	if d := at[1].Sub(evs[1].Time); d < 0 || d > time.Second {
		t.Errorf("End delivered %v after its Time", d)
	}
}

// TestRunRestartsFFmpeg: ffmpeg killed every 2 s (a wrapper around the
// real one) is restarted and detection goes on; a motion on when the
// context ends gets its End.
func TestRunRestartsFFmpeg(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	bin, _ := exec.LookPath("ffmpeg")
	dir := t.TempDir()
	count := filepath.Join(dir, "starts")
	wrapper := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\necho x >> " + count + "\nexec timeout -s KILL 2 " + bin + ` "$@"` + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// still until 3.5 s (the first ffmpeg is killed at 2 s), then moving
	// back and forth until the end
	aus := testenv.AccessUnits(t, testenv.EncodeH264(t, testenv.MovingBox("if(lt(t,3.5),40,40+300*abs(sin(t-3.5)))"), 6))
	evs, at, src := runClip(t, aus, Config{Cooldown: 5 * time.Second}, Options{FFmpeg: wrapper}, 0)
	b, _ := os.ReadFile(count)
	if starts := strings.Count(string(b), "x"); starts < 2 {
		t.Errorf("ffmpeg started %d times, want restarts", starts)
	}
	if len(evs) != 2 || !evs[0].Start || evs[1].Start {
		t.Fatalf("events %+v, want a Start and the End at cancel", evs)
	}
	if lat := at[0].Sub(src.sentAt(88)); lat < 0 || lat > 1500*time.Millisecond {
		// up to the next IDR after a restart (1 s) may pass unseen
		t.Errorf("Start %v after the movement began", lat)
	}
	if d := at[1].Sub(evs[1].Time); d < 0 || d > time.Second {
		t.Errorf("End at cancel: Time %v before it was emitted", d)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	src := newClipSource(nil)
	if err := Run(context.Background(), src, Config{Sensitivity: 2}, Options{}, func(Event) {}); err == nil {
		t.Error("sensitivity 2 accepted")
	}
	if err := Run(context.Background(), src, Config{}, Options{FPS: 100}, func(Event) {}); err == nil {
		t.Error("fps 100 accepted")
	}
}

func TestRunWithoutFFmpegReturnsOnCancel(t *testing.T) {
	src := newClipSource(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Run(ctx, src, Config{}, Options{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg"), Log: testLog(t)}, func(Event) {})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run returned %v after start, its context ended at 1.2 s", d)
	}
}

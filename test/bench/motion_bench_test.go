package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/argus-vms/argus/actors/media/motion"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/test/testenv"
)

// Motion clip: 640×360 at 25 fps, SMPTE bars with grain, a white 64×64
// box that moves during [5p+2, 5p+4) s of every 5 s period p, encoded as
// a camera would (x264 veryfast with deblocking, 1 Mbps, IDR every second,
// no B-frames).
const (
	motionSeconds = 25
	motionPeriod  = 5
	motionMoveAt  = 2
)

func motionClip(b *testing.B) []byte {
	m := fmt.Sprintf("clip((mod(t,%d)-%d)/2,0,1)", motionPeriod, motionMoveAt)
	x := fmt.Sprintf("40+300*if(mod(floor(t/%d),2),1-%s,%s)", motionPeriod, m, m)
	return testenv.EncodeH264(b, testenv.MovingBox(x), motionSeconds,
		"-preset", "veryfast", "-b:v", "1M", "-maxrate", "1M", "-bufsize", "1M")
}

// motionSource plays access units at 25 fps to one subscriber, as a relay
// stream would, and notes when each was delivered.
type motionSource struct {
	aus  [][][]byte
	mu   sync.Mutex
	fn   func(relay.Frame)
	sent []time.Time
}

func (s *motionSource) SubscribeVideo(fn func(relay.Frame)) func() {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.fn = nil
		s.mu.Unlock()
	}
}

func (s *motionSource) play() {
	t0 := time.Now()
	for i, au := range s.aus {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * 40 * time.Millisecond)))
		now := time.Now()
		s.mu.Lock()
		s.sent = append(s.sent, now)
		if s.fn != nil {
			s.fn(relay.Frame{Codec: relay.CodecH264, NALUs: au, PTS: time.Duration(i) * 40 * time.Millisecond, NTP: now, Random: h264.IsRandomAccess(au)})
		}
		s.mu.Unlock()
	}
}

// childCPU finds this process's child named comm (other than pid not) and
// returns a function reading its CPU so far (/proc/<pid>/stat), or nil.
func childCPU(comm string, not int) func() time.Duration {
	self := strconv.Itoa(os.Getpid())
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.HasSuffix(s[:i], "("+comm) {
			continue
		}
		if f := strings.Fields(s[i+2:]); len(f) > 1 && f[1] == self {
			pid, _ := strconv.Atoi(d.Name())
			if pid == not {
				continue
			}
			return func() time.Duration { return time.Duration(cpuSeconds(pid) * float64(time.Second)) }
		}
	}
	return nil
}

// selfCPU is this process's CPU so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pctCore(cpu, wall time.Duration) float64 { return 100 * cpu.Seconds() / wall.Seconds() }

// steady measures CPU from warmup after start until the clip ends: a
// channel runs for hours, ffmpeg's start (~0.2 s of CPU) is not its cost.
const motionWarmup = 3 * time.Second

// BenchmarkMotion: Argus's own motion detection on one 640×360 25 fps
// channel (motion.Run: one ffmpeg decoding to 64×36 grey at 5 fps, the
// detector in Go) at real-time pace — steady-state CPU as % of one core
// (ffmpeg from /proc, Go from getrusage less the test's own 25 fps feeder,
// measured alone), and the latency from each movement's start to its Start
// event. Baseline, in the same window: ffmpeg alone decoding the same clip
// to null at the same pace (-re), the least any decoding detector costs.
func BenchmarkMotion(b *testing.B) {
	testenv.NeedFFmpeg(b, "the motion benchmark")
	clip := motionClip(b)
	aus := testenv.AccessUnits(b, clip)
	file := filepath.Join(b.TempDir(), "clip.h264")
	if err := os.WriteFile(file, clip, 0o644); err != nil {
		b.Fatal(err)
	}
	window := time.Duration(len(aus))*40*time.Millisecond - motionWarmup - 500*time.Millisecond

	// the feeder alone (it stands for the relay, which runs anyway)
	feeder := &motionSource{aus: aus}
	feeder.SubscribeVideo(func(relay.Frame) {})
	go feeder.play()
	time.Sleep(motionWarmup)
	f0 := selfCPU()
	time.Sleep(window)
	feederPct := pctCore(selfCPU()-f0, window)
	time.Sleep(time.Second) // its end

	// motion.Run on the access units at 25 fps and, at the same time (the
	// same load on this shared machine), the baseline: ffmpeg decoding the
	// clip to null at 25 fps
	src := &motionSource{aus: aus}
	var (
		mu     sync.Mutex
		starts []time.Time
		events int
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- motion.Run(ctx, src, motion.Config{}, motion.Options{}, func(ev motion.Event) {
			mu.Lock()
			events++
			if ev.Start {
				starts = append(starts, time.Now())
			}
			mu.Unlock()
		})
	}()
	played := make(chan struct{})
	go func() { src.play(); close(played) }()
	base := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-threads", "1", "-f", "h264", "-i", file, "-f", "null", "-")
	if err := base.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(motionWarmup)
	ff := childCPU("ffmpeg", base.Process.Pid)
	if ff == nil {
		b.Fatal("no ffmpeg child of motion.Run")
	}
	s0, ff0, b0 := selfCPU(), ff(), cpuSeconds(base.Process.Pid)
	time.Sleep(window)
	ffPct, goPct := pctCore(ff()-ff0, window), pctCore(selfCPU()-s0, window)-feederPct
	basePct := 100 * (cpuSeconds(base.Process.Pid) - b0) / window.Seconds()
	<-played
	time.Sleep(200 * time.Millisecond) // the last frames through ffmpeg
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if err := base.Wait(); err != nil {
		b.Fatalf("baseline ffmpeg: %v", err)
	}
	total := ffPct + goPct

	// latency: each movement's first moved frame → the Start after it
	var lats []time.Duration
	missed := 0
	for p := 0; (p*motionPeriod+motionMoveAt)*25+1 < len(src.sent); p++ {
		moved := src.sent[(p*motionPeriod+motionMoveAt)*25+1]
		found := false
		for _, s := range starts {
			if s.After(moved) && s.Sub(moved) < (motionPeriod-motionMoveAt)*time.Second {
				lats = append(lats, s.Sub(moved))
				found = true
				break
			}
		}
		if !found {
			missed++
		}
	}
	b.Logf("%d events, %d starts, latencies %v, %d movements missed; window %v, feeder %.2f %%", events, len(starts), lats, missed, window, feederPct)

	results.add("motion CPU per 640×360 25 fps 1 Mbps channel, steady (ffmpeg + Go), % of a core",
		fmt.Sprintf("%.2f %% (ffmpeg %.2f + Go %.2f)", total, ffPct, goPct),
		fmt.Sprintf("%.2f %% (ffmpeg -re decode to null)", basePct),
		fmt.Sprintf("%.2f", total/basePct), "≤ 2 % of a core")
	results.add("motion latency p50 / max, movement start → Start event",
		fmt.Sprintf("%s / %s (%d of %d detected, %d starts)", ms(percentile(lats, 0.5)), ms(percentile(lats, 1)), len(lats), len(lats)+missed, len(starts)),
		"-", "-", "latency ≤ 1 s")
	if missed > 0 || len(starts) != len(lats) {
		b.Errorf("%d movements missed, %d Start events for %d movements", missed, len(starts), len(lats)+missed)
	}
}

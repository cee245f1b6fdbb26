package record

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecorderCPU measures the CPU cost of recording 2 Mbps streams:
// N fakecam streams are pulled into relay streams; the process CPU time is
// measured for a window without recorders, then with one recorder per
// stream writing 10 s segments to a local directory. The difference per
// stream is the recorder's cost. N is ARGUS_BENCH_STREAMS (default 10),
// the window ARGUS_BENCH_SECONDS (default 10). It runs for H.264 and
// H.265 cameras of the same bitrate, one after the other.
//
//	go test -run '^$' -bench RecorderCPU -benchtime 1x ./actors/media/record/
func BenchmarkRecorderCPU(b *testing.B) {
	for _, codec := range []string{fakecam.CodecH264, fakecam.CodecH265} {
		b.Run(codec, func(b *testing.B) { recorderCPU(b, codec) })
	}
}

func recorderCPU(b *testing.B, codec string) {
	n := envInt("ARGUS_BENCH_STREAMS", 10)
	window := time.Duration(envInt("ARGUS_BENCH_SECONDS", 10)) * time.Second
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("cam%d", i+1)
	}
	cam := startCam(b, fakecam.Options{Paths: paths, Bitrate: 2_000_000, Codec: codec})
	srcs := make([]*relay.Stream, n)
	for i, p := range paths {
		srcs[i] = startRelay(b, cam.URL(p), p)
	}
	st, err := storage.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second)

	measure := func() time.Duration {
		c0, t0 := cpuTime(), time.Now()
		time.Sleep(window)
		return time.Duration(float64(cpuTime()-c0) * float64(window) / float64(time.Since(t0)))
	}
	base := measure()

	var segs segments
	recs := make([]*Recorder, n)
	for i, src := range srcs {
		recs[i], err = Start(Config{Key: fmt.Sprintf("cam%d~1", i+1), SegmentDuration: 10 * time.Second,
			Storage: st, OnSegment: segs.add}, src)
		if err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	withRec := measure()
	var dropped uint64
	for _, r := range recs {
		r.Stop()
		dropped += r.Dropped()
	}
	var bytes int64
	var dur int64
	for _, s := range segs.get() {
		bytes += s.Bytes
		dur += s.DurationMS
	}

	perStream := float64(withRec-base) / float64(n) / float64(window) * 100
	b.ReportMetric(float64(base)/float64(window)*100/float64(n), "pipeline-%cpu/stream")
	b.ReportMetric(perStream, "recorder-%cpu/stream")
	if dur > 0 {
		b.ReportMetric(float64(bytes)*8/float64(dur)/1000, "recorded-Mbit/s/stream")
	}
	b.ReportMetric(float64(dropped), "dropped-AUs")
	b.Logf("%s: %d streams, %v windows: pipeline %v CPU, with recorders %v CPU; recorder %.2f%% of a core per stream; %d segments",
		codec, n, window, base, withRec, perStream, len(segs.get()))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// A range without recordings is a permanent failure saying so, for every
// type reading recordings.
func TestNothingRecorded(t *testing.T) {
	env, _ := testEnv(t)
	for _, s := range []*pb.TaskSpec{
		spec(task.TypeClip, -time.Hour, -time.Hour+10*time.Second, nil),
		spec(task.TypeTimelapse, time.Hour, 2*time.Hour, &pb.TaskParams{Speed: 10}),
		spec(task.TypeTranscode, -10*time.Second, -time.Second, &pb.TaskParams{Renditions: []string{"360p"}}),
		spec(task.TypeSnapshot, 30*time.Second, 0, nil),
		{Type: task.TypeClip, Device: "cam2", Channel: 1, FromUnixMs: t0.UnixMilli(), ToUnixMs: t0.Add(5 * time.Second).UnixMilli()},
	} {
		_, err := Run(t.Context(), env, Job{ID: "t1", Spec: s}, nil)
		if !IsPermanent(err) || !strings.Contains(fmt.Sprint(err), "nothing is recorded in the range") {
			t.Errorf("%s of %s: %v", s.Type, s.Device, err)
		}
	}
	if left, _ := os.ReadDir(env.TempDir); len(left) != 0 {
		t.Errorf("scratch files left: %v", left)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad source")
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) || p.Error() != "bad source" {
		t.Errorf("Permanent: %v", p)
	}
	if w := fmt.Errorf("clip: %w", p); !IsPermanent(w) {
		t.Error("a wrapped permanent error is not permanent")
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Error("not permanent errors are")
	}
	if Permanent(p) != p {
		t.Error("Permanent wraps twice")
	}
	for _, s := range []*pb.TaskSpec{nil, {Type: "resize"}} {
		if _, err := Run(t.Context(), Env{}, Job{ID: "t1", Spec: s}, nil); !IsPermanent(err) {
			t.Errorf("spec %v: %v", s, err)
		}
	}
	if _, err := Run(t.Context(), Env{}, Job{ID: "T/../1", Spec: &pb.TaskSpec{Type: task.TypeClip}}, nil); !IsPermanent(err) {
		t.Errorf("bad id: %v", err)
	}
}

// ffmpeg's progress blocks make progress calls of out_time/expect,
// spaced, never going back, 1 at the end; out_time is the output's.
func TestProgressReader(t *testing.T) {
	var got []float64
	p := progressReader{expect: 10 * time.Second, report: func(f float64) { got = append(got, f) }}
	p.read(strings.NewReader("frame=1\nout_time_us=N/A\nprogress=continue\n" +
		"out_time_us=-40000\nprogress=continue\n" +
		"out_time_us=2500000\nout_time=00:00:02.500000\nprogress=continue\n" +
		"out_time_us=3000000\nprogress=continue\n" + // too soon after the last
		"out_time_us=9900000\nprogress=end\n"))
	if len(got) != 2 || got[0] != 0.25 || got[1] != 1 {
		t.Errorf("progress %v, want [0.25 1]", got)
	}
	if p.outTime != 9900*time.Millisecond {
		t.Errorf("out time %v", p.outTime)
	}
}

// Canceling the context kills ffmpeg at once: Run returns the context's
// error within 2 s and the process is gone.
func TestCancelKillsFFmpeg(t *testing.T) {
	env, _ := testEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	// the whole ladder of the whole recording: tens of seconds of work
	s := spec(task.TypeTranscode, 0, recordSeconds*time.Second, &pb.TaskParams{Renditions: []string{"360p", "480p", "720p", "1080p"}})
	go func() {
		_, err := Run(ctx, env, Job{ID: "t1", Spec: s}, func(float64) {
			select {
			case <-started:
			default:
				close(started)
			}
		})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run ended before any progress: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no progress in 30 s")
	}
	pids := children(t, "ffmpeg")
	if len(pids) != 1 {
		t.Fatalf("ffmpeg processes running: %v", pids)
	}
	cancel()
	canceled := time.Now()
	select {
	case err := <-done:
		t.Logf("Run returned %v after the cancel", time.Since(canceled).Round(time.Millisecond))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run still running 2 s after the cancel")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pids[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ffmpeg (pid %d) is still there: %v", pids[0], err)
	}
	if left, _ := os.ReadDir(env.TempDir); len(left) != 0 {
		t.Errorf("scratch files left: %v", left)
	}
}

// children lists this process's child processes running name.
func children(t *testing.T, name string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …: comm may hold spaces, the last ) ends it
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		j := strings.IndexByte(s, '(')
		if i < 0 || j < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || s[j+1:i] != name {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == os.Getpid() {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:j]))
			pids = append(pids, pid)
		}
	}
	return pids
}

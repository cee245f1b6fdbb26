package bench

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// writeBytes is the bytes a process caused to be written to storage (/proc/pid/io).
func writeBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkRecording is issue 4's figure: N continuous recordings of 2 Mbps
// fakecam streams at once (10 s segments) — CPU of the node per stream,
// bytes written per stream, and whether every stream kept recording.
func BenchmarkRecording(b *testing.B) {
	for _, streams := range []int{50, 200} {
		recordStreams(b, streams, 30*time.Second)
	}
}

func recordStreams(b *testing.B, streams int, dur time.Duration) {
	paths := make([]string, streams)
	for i := range paths {
		paths[i] = "r" + strconv.Itoa(i)
	}
	camPort := testenv.FreePort(b)
	cam := exec.Command(testenv.Binary(b), "fakecam", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--paths", strings.Join(paths, ","), "--log-level", "warn")
	cam.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cam.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cam.Process.Kill(); cam.Wait() }()
	waitRTSP(b, fmt.Sprintf("rtsp://127.0.0.1:%d/r0", camPort))

	n := testenv.StartDev(b, testenv.NodeOptions{Args: []string{"--log-level", "warn"}})
	for i, p := range paths {
		id := fmt.Sprintf("rec-%d", i)
		if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"r","url":"rtsp://127.0.0.1:%d/%s"}`, id, camPort, p)); st != 201 {
			b.Fatalf("create: %d %s", st, body)
		}
		if st, _, body := n.Do("PUT", "/v1/devices/"+id+"/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
			b.Fatalf("plan: %d %s", st, body)
		}
	}
	time.Sleep(8 * time.Second) // pulls up, first segments under way
	c0, w0, camC0 := cpuSeconds(n.Pid()), writeBytes(n.Pid()), cpuSeconds(cam.Process.Pid)
	time.Sleep(dur)
	cpu, written, camCPU := cpuSeconds(n.Pid())-c0, writeBytes(n.Pid())-w0, cpuSeconds(cam.Process.Pid)-camC0

	// Every stream must have produced full segments.
	perDevice := map[string]int{}
	filepath.WalkDir(filepath.Join(n.Data, "recordings"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mp4") {
			rel, _ := filepath.Rel(filepath.Join(n.Data, "recordings"), p)
			perDevice[strings.SplitN(rel, string(filepath.Separator), 2)[0]]++
		}
		return nil
	})
	short := 0
	for i := range paths {
		if perDevice[fmt.Sprintf("rec-%d~1", i)] < 2 {
			short++
		}
	}
	secs := dur.Seconds()
	results.add(fmt.Sprintf("(h) %d concurrent 2 Mbps recordings: node CPU per stream", streams),
		fmt.Sprintf("%.2f%% of a core, %.0f kB/s written per stream, %d streams short of segments", cpu/secs/float64(streams)*100, float64(written)/secs/float64(streams)/1000, short),
		fmt.Sprintf("fakecam (source) %.2f%% of a core per stream", camCPU/secs/float64(streams)*100), "—", "200 streams on this machine")
	n.Stop()
}

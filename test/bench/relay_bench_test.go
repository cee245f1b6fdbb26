package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// reader is one RTSP client over TCP that counts packets, sequence gaps and
// the time its first decodable picture (an IDR access unit) arrived.
type reader struct {
	c        *gortsplib.Client
	packets  atomic.Int64
	lost     atomic.Int64
	firstIDR chan time.Time
	played   time.Time
}

func startReader(rawURL string) (*reader, error) { return startReaderAU(rawURL, nil) }

// startReaderAU is startReader calling onAU, when not nil, with every
// access unit (on the client's reading goroutine).
func startReaderAU(rawURL string, onAU func(au [][]byte)) (*reader, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.ProtocolTCP
	r := &reader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}, firstIDR: make(chan time.Time, 1)}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		r.c.Close()
		return nil, fmt.Errorf("no h264 in %s", rawURL)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		r.c.Close()
		return nil, err
	}
	if _, err := r.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		r.c.Close()
		return nil, err
	}
	var last uint16
	var seen, gotIDR bool
	r.c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		r.packets.Add(1)
		if seen && pkt.SequenceNumber != last+1 {
			r.lost.Add(int64(pkt.SequenceNumber - last - 1))
		}
		last, seen = pkt.SequenceNumber, true
		if gotIDR && onAU == nil {
			return
		}
		au, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		if onAU != nil {
			onAU(au)
		}
		if !gotIDR && h264.IsRandomAccess(au) {
			gotIDR = true
			r.firstIDR <- time.Now()
		}
	})
	r.played = time.Now() // PLAY sent; a relay with a GOP cache answers with the IDR at once
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

// cpuSeconds of a process (user + system), from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks (USER_HZ = 100)
}

// fanOut attaches n readers to url, measures the server process's CPU over
// dur, and returns CPU seconds per reader-minute and the loss ratio.
func fanOut(b *testing.B, url string, pid, n int, dur time.Duration) (float64, float64, int) {
	readers := attachReaders(b, url, n)
	time.Sleep(2 * time.Second) // settle
	for _, r := range readers {
		r.packets.Store(0)
		r.lost.Store(0)
	}
	c0 := cpuSeconds(pid)
	time.Sleep(dur)
	cpu := cpuSeconds(pid) - c0
	loss := closeReaders(readers)
	return cpu / (float64(len(readers)) * dur.Minutes()), loss, len(readers)
}

// closeReaders closes readers and returns the share of packets they lost
// since their counters were last reset.
func closeReaders(readers []*reader) float64 {
	var pk, lost int64
	for _, r := range readers {
		pk += r.packets.Load()
		lost += r.lost.Load()
		r.c.Close()
	}
	if pk+lost == 0 {
		return 0
	}
	return float64(lost) / float64(pk+lost)
}

// attachReaders starts n TCP readers of url, 16 at a time.
func attachReaders(b *testing.B, url string, n int) []*reader {
	var (
		mu      sync.Mutex
		readers []*reader
		failed  atomic.Int64
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := startReader(url)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			readers = append(readers, r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Logf("%s: %d of %d readers failed to start", url, failed.Load(), n)
	}
	return readers
}

// BenchmarkRelay measures issue 3's figures: fan-out of one 2 Mbps camera to
// 50/200/500 TCP readers through the relay next to the same readers on the
// camera itself (a bare gortsplib server: this library's floor), cold start
// to first frame, and a hot join's first frame after PLAY.
func BenchmarkRelay(b *testing.B) {
	cam, camURL := startBenchCam(b)

	n := testenv.StartDev(b, testenv.NodeOptions{Args: []string{"--probe-interval", "0", "--idle-timeout", "2s", "--log-level", "warn"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"bench-cam","name":"b","url":%q}`, camURL)); st != 201 {
		b.Fatalf("create: %d %s", st, body)
	}
	live := func() string {
		_, _, body := n.Do("GET", "/v1/devices/bench-cam/channels/1/live?ttl=3600", "", "")
		var v struct {
			RTSP string `json:"rtsp_url"`
		}
		if err := jsonUnmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
		return v.RTSP
	}
	url := live()

	// Cold start (on demand) → first IDR, three times; the stream is idle between.
	var colds []float64
	for i := 0; i < 3; i++ {
		waitIdle(b, n)
		t0 := time.Now()
		r, err := startReader(url)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-r.firstIDR:
			colds = append(colds, float64(at.Sub(t0)))
		case <-time.After(10 * time.Second):
			b.Fatal("no frame within 10 s of a cold start")
		}
		r.c.Close()
	}
	results.add("(e) cold start (idle stream) → first frame, median of 3", ms(time.Duration(median(colds))), "—", "—", "≤ 1500 ms")

	// Hot join: one reader holds the stream; others join and time PLAY → first IDR.
	holder, err := startReader(url)
	if err != nil {
		b.Fatal(err)
	}
	<-holder.firstIDR
	var hots []float64
	for i := 0; i < 5; i++ {
		time.Sleep(time.Duration(150+i*170) * time.Millisecond) // land at different points of the GOP
		r, err := startReader(url)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-r.firstIDR:
			hots = append(hots, float64(at.Sub(r.played)))
		case <-time.After(5 * time.Second):
			b.Fatal("no frame within 5 s of joining a hot stream")
		}
		r.c.Close()
	}
	holder.c.Close()
	results.add("(f) hot join: PLAY → first frame, median of 5", ms(time.Duration(median(hots))), "—", "—", "≤ 100 ms")

	// Fan-out next to the baseline, level by level.
	const dur = 15 * time.Second
	for _, readers := range []int{50, 200, 500} {
		baseCPU, baseLoss, bn := fanOut(b, camURL, cam.Process.Pid, readers, dur)
		hold, _ := startReader(url) // keep the relay's pull up between levels
		relayCPU, relayLoss, rn := fanOut(b, live(), n.Pid(), readers, dur)
		if hold != nil {
			hold.c.Close()
		}
		results.add(fmt.Sprintf("(g) fan-out to %d TCP readers: relay CPU s per reader-minute (loss)", readers),
			fmt.Sprintf("%.4f (%.3f%% lost, %d readers)", relayCPU, relayLoss*100, rn),
			fmt.Sprintf("%.4f (%.3f%% lost, %d readers) fakecam direct", baseCPU, baseLoss*100, bn),
			fmt.Sprintf("%.2f", relayCPU/baseCPU), "≤ 1.2, no loss at 500")
	}
}

// startBenchCam runs `argus fakecam` (2 Mbps, path cam1) as its own
// process, stopped with the benchmark.
func startBenchCam(b *testing.B) (*exec.Cmd, string) {
	camPort := testenv.FreePort(b)
	cam := exec.Command(testenv.Binary(b), "fakecam", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--paths", "cam1", "--bitrate", "2000000", "--log-level", "warn")
	cam.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cam.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cam.Process.Kill(); cam.Wait() })
	camURL := fmt.Sprintf("rtsp://127.0.0.1:%d/cam1", camPort)
	waitRTSP(b, camURL)
	return cam, camURL
}

func waitRTSP(b *testing.B, url string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := startReader(url); err == nil {
			r.c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("%s never answered", url)
}

// waitIdle waits until the node reports no active stream.
func waitIdle(b *testing.B, n *testenv.Node) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, _, body := n.Do("GET", "/v1/streams", "", "")
		if strings.Contains(string(body), `"items":[]`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("stream never went idle")
}

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/whep/whepclient"
	"github.com/argus-vms/argus/test/testenv"
)

// BenchmarkWebRTC measures issue 18's WebRTC figures on one 2 Mbps camera
// held hot by an RTSP reader: a WHEP reader's hot join (offer → first
// decodable frame, ICE and DTLS included) next to an RTSP reader's
// (PLAY → first frame) in the same run, and the node's CPU per WebRTC
// reader next to per RTSP reader, and the latency the relay adds to a
// picture for an RTSP and a WebRTC reader (against one pulling the camera).
func BenchmarkWebRTC(b *testing.B) {
	_, camURL := startBenchCam(b)

	n := testenv.StartDev(b, testenv.NodeOptions{Args: []string{"--probe-interval", "0", "--log-level", "warn"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"bench-cam","name":"b","url":%q}`, camURL)); st != 201 {
		b.Fatalf("create: %d %s", st, body)
	}
	_, _, body := n.Do("GET", "/v1/devices/bench-cam/channels/1/live?ttl=3600", "", "")
	var urls struct {
		RTSP   string `json:"rtsp_url"`
		WebRTC string `json:"webrtc_url"`
	}
	if err := jsonUnmarshal(body, &urls); err != nil || urls.WebRTC == "" {
		b.Fatalf("live URLs: %v %s", err, body)
	}
	holder, err := startReader(urls.RTSP)
	if err != nil {
		b.Fatal(err)
	}
	defer holder.c.Close()
	<-holder.firstIDR

	// hot joins at different points of the GOP, alternating RTSP and WebRTC
	var rtspJoins, webrtcJoins []time.Duration
	for i := range 10 {
		time.Sleep(time.Duration(150+i*170) * time.Millisecond)
		r, err := startReader(urls.RTSP)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-r.firstIDR:
			rtspJoins = append(rtspJoins, at.Sub(r.played))
		case <-time.After(5 * time.Second):
			b.Fatal("RTSP: no frame within 5 s of joining")
		}
		r.c.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := whepclient.Dial(ctx, urls.WebRTC)
		if err != nil {
			b.Fatalf("WHEP: %v", err)
		}
		select {
		case d := <-c.FirstFrame():
			webrtcJoins = append(webrtcJoins, d)
		case <-ctx.Done():
			b.Fatal("WebRTC: no frame within 10 s of joining")
		}
		cancel()
		c.Close()
	}
	results.add("(w1) WebRTC hot join: offer → first frame (ICE+DTLS included), p50 / max of 10",
		ms(percentile(webrtcJoins, 0.5))+" / "+ms(percentile(webrtcJoins, 1)),
		ms(percentile(rtspJoins, 0.5))+" / "+ms(percentile(rtspJoins, 1))+" RTSP PLAY → first frame",
		"—", "≤ 200 ms")

	relayLatency(b, camURL, urls.RTSP, urls.WebRTC, 10*time.Second)

	// CPU per reader: the same number of RTSP then WebRTC readers for dur
	const readers, dur = 20, 15 * time.Second
	rtspCPU, _, rn := fanOut(b, urls.RTSP, n.Pid(), readers, dur)
	var clients []*whepclient.Client
	for range readers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := whepclient.Dial(ctx, urls.WebRTC)
		cancel()
		if err != nil {
			b.Fatalf("WHEP reader: %v", err)
		}
		clients = append(clients, c)
	}
	time.Sleep(2 * time.Second) // past the joins
	cpu0, frames0 := cpuSeconds(n.Pid()), 0
	for _, c := range clients {
		frames0 += c.Frames()
	}
	time.Sleep(dur)
	cpu1, frames1, lost := cpuSeconds(n.Pid()), 0, 0
	for _, c := range clients {
		frames1 += c.Frames()
		lost += c.Stats().Lost
		c.Close()
	}
	webrtcCPU := (cpu1 - cpu0) / float64(readers) / dur.Minutes()
	results.add(fmt.Sprintf("(w2) %d WebRTC readers: node CPU s per reader-minute (frames/s per reader, packets lost)", readers),
		fmt.Sprintf("%.4f (%.1f fps, %d lost)", webrtcCPU, float64(frames1-frames0)/float64(readers)/dur.Seconds(), lost),
		fmt.Sprintf("%.4f (%d RTSP readers)", rtspCPU, rn), fmt.Sprintf("%.2f", webrtcCPU/rtspCPU), "—")
}

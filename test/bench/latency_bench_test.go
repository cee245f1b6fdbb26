package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/argus-vms/argus/actors/media/whep/whepclient"
)

// frameClock records when each access unit arrives at a reader, by the
// content of its slices (parameter sets and SEI differ between the
// camera's and the relay's form of the same picture; fakecam's clip
// repeats, so a picture has an arrival per loop).
type frameClock struct {
	mu sync.Mutex
	at map[[32]byte][]time.Time
}

func newFrameClock() *frameClock { return &frameClock{at: map[[32]byte][]time.Time{}} }

func (c *frameClock) saw(au [][]byte) {
	now := time.Now()
	h := sha256.New()
	for _, n := range au {
		if len(n) > 0 {
			if typ := h264.NALUType(n[0] & 0x1f); typ == h264.NALUTypeIDR || typ == h264.NALUTypeNonIDR {
				h.Write(n)
			}
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	c.mu.Lock()
	c.at[k] = append(c.at[k], now)
	c.mu.Unlock()
}

// delays matches each of got's arrivals with the nearest arrival of the
// same picture at ref (within a second) and returns got's delays.
func (c *frameClock) delays(ref *frameClock) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	ref.mu.Lock()
	defer ref.mu.Unlock()
	var out []time.Duration
	for k, ts := range c.at {
		rs := ref.at[k]
		for _, t := range ts {
			best, ok := time.Duration(0), false
			for _, r := range rs {
				if d := t.Sub(r); d.Abs() < time.Second && (!ok || d.Abs() < best.Abs()) {
					best, ok = d, true
				}
			}
			if ok {
				out = append(out, best)
			}
		}
	}
	return out
}

// relayLatency measures what the relay adds to a picture's arrival: one
// reader pulls the camera directly, an RTSP reader and a WHEP reader read
// the node's relay of it, all at once for dur; each relayed picture's
// arrival is compared with the direct reader's.
func relayLatency(b *testing.B, camURL, rtspURL, webrtcURL string, dur time.Duration) {
	direct, viaRTSP, viaWebRTC := newFrameClock(), newFrameClock(), newFrameClock()
	d, err := startReaderAU(camURL, direct.saw)
	if err != nil {
		b.Fatal(err)
	}
	defer d.c.Close()
	r, err := startReaderAU(rtspURL, viaRTSP.saw)
	if err != nil {
		b.Fatal(err)
	}
	defer r.c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := whepclient.Dial(ctx, webrtcURL, whepclient.WithFrameHandler(func(au [][]byte, _ uint32) { viaWebRTC.saw(au) }))
	if err != nil {
		b.Fatalf("WHEP: %v", err)
	}
	defer w.Close()
	time.Sleep(dur)
	rd, wd := viaRTSP.delays(direct), viaWebRTC.delays(direct)
	if len(rd) < 50 || len(wd) < 50 {
		b.Fatalf("matched %d RTSP and %d WebRTC pictures of the direct reader's", len(rd), len(wd))
	}
	results.add(fmt.Sprintf("(w3) relay-added latency, WebRTC reader: p50 / p99 / max of %d pictures", len(wd)),
		ms(percentile(wd, 0.5))+" / "+ms(percentile(wd, 0.99))+" / "+ms(percentile(wd, 1)),
		fmt.Sprintf("%s / %s / %s RTSP reader (%d pictures)", ms(percentile(rd, 0.5)), ms(percentile(rd, 0.99)), ms(percentile(rd, 1)), len(rd)),
		"—", "p99 ≤ 50 ms")
}

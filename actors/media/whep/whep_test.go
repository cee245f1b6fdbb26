package whep

import (
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/whep/whepclient"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

const fps = 25

// TestPlay reads a live stream for over 2 s: the first access unit is an
// IDR, the rate is the source's, nothing is lost, a PLI changes nothing.
func TestPlay(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	src := newClipSource(t, true)
	hs := serveWHEP(t, srv, src)

	c := dial(t, hs)
	ff := firstFrame(t, c)
	st := c.Stats()
	t.Logf("first frame (IDR) %v after Dial start, connected at %v", ff, st.Connected)
	if !st.FirstIsIDR {
		t.Fatal("the first access unit is not an IDR")
	}
	if srv.Readers() != 1 {
		t.Fatalf("Readers = %d, want 1", srv.Readers())
	}

	// A PLI cannot be honoured (the camera makes the IDRs) and must not
	// disturb the stream.
	if err := c.SendPLI(); err != nil {
		t.Fatalf("PLI: %v", err)
	}
	// The cached-GOP burst comes first; measure the live rate after it.
	time.Sleep(500 * time.Millisecond)
	from := c.Frames()
	const window = 2 * time.Second
	time.Sleep(window)
	st = c.Stats()
	got, want := st.Frames-from, int(window.Seconds()*fps)
	t.Logf("%d frames in %v (want %d ±20%%), %d keyframes, %d bytes, lost %d", got, window, want, st.Keyframes, st.VideoBytes, st.Lost)
	if got < want*8/10 || got > want*12/10 {
		t.Fatalf("%d frames in %v, want %d ±20%%", got, window, want)
	}
	if st.Keyframes < 2 {
		t.Fatalf("%d keyframes in %v, want an IDR a second", st.Keyframes, window)
	}
	if st.Incomplete != 0 || st.Lost != 0 {
		t.Fatalf("incomplete %d, lost %d on loopback", st.Incomplete, st.Lost)
	}
	if c.AudioCodec() != "" || st.AudioPackets != 0 {
		t.Fatalf("audio %q (%d packets) from a source without audio", c.AudioCodec(), st.AudioPackets)
	}
}

// TestJoinMidGOP: a reader joining in the middle of a GOP gets the cached
// GOP from its IDR at once, with the source's timestamps; without a cache
// it waits for the next IDR — and never starts on a P frame either way.
func TestJoinMidGOP(t *testing.T) {
	t.Parallel()
	for _, cache := range []bool{true, false} {
		name := "cached"
		if !cache {
			name = "uncached"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t)
			src := newClipSource(t, cache)
			hs := serveWHEP(t, srv, src)

			// Join around the middle of a GOP (25 frames).
			eventually(t, 3*time.Second, "mid-GOP", func() bool {
				n, in := src.position()
				return n > fps && in >= 10 && in <= 14
			})
			_, at := src.position()

			var mu sync.Mutex
			var ts []uint32
			var firstNALU h264.NALUType
			c := dial(t, hs, whepclient.WithFrameHandler(func(au [][]byte, rtpTS uint32) {
				mu.Lock()
				defer mu.Unlock()
				if len(ts) == 0 {
					firstNALU = h264.NALUType(au[0][0] & 0x1f)
				}
				if len(ts) < 40 {
					ts = append(ts, rtpTS)
				}
			}))
			ff := firstFrame(t, c)
			t.Logf("joined at GOP frame %d, first frame %v after Dial start", at, ff)
			eventually(t, 3*time.Second, "30 frames", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(ts) >= 30
			})
			mu.Lock()
			defer mu.Unlock()
			if !c.Stats().FirstIsIDR {
				t.Fatalf("the first access unit is not an IDR (first NALU %v)", firstNALU)
			}
			// The RTP timestamps are the source's pts at 90 kHz, through the
			// replayed GOP and into the live frames.
			for i := 1; i < 30; i++ {
				if d := ts[i] - ts[i-1]; d != 3600 {
					t.Fatalf("timestamp step %d at frame %d, want 3600 (40 ms)", d, i)
				}
			}
		})
	}
}

// TestAudio: Opus and G.711 are forwarded when the offer takes them; AAC
// cannot go to WebRTC: no audio track (the m-line is answered inactive), video
// plays.
func TestAudio(t *testing.T) {
	t.Parallel()
	t.Run("opus", func(t *testing.T) {
		t.Parallel()
		srv := newTestServer(t)
		src := newAudioSource(t, newClipSource(t, true), "opus", 48000, 1, opusClip(t), 20*time.Millisecond)
		c := dial(t, serveWHEP(t, srv, src))
		firstFrame(t, c)
		if c.AudioCodec() != "opus" {
			t.Fatalf("AudioCodec = %q, want opus\n%s", c.AudioCodec(), c.Answer())
		}
		eventually(t, 3*time.Second, "opus packets", func() bool { return c.AudioPackets() >= 25 })
		t.Logf("%d opus packets, %d frames", c.AudioPackets(), c.Frames())
	})
	t.Run("pcma", func(t *testing.T) {
		t.Parallel()
		// 40 ms blocks of A-law (320 samples): sent as two 20 ms packets.
		block := make([]byte, 320)
		for i := range block {
			block[i] = 0xd5 // A-law silence
		}
		srv := newTestServer(t)
		src := newAudioSource(t, newClipSource(t, true), "pcma", 8000, 1, [][]byte{block}, 40*time.Millisecond)
		c := dial(t, serveWHEP(t, srv, src))
		firstFrame(t, c)
		if c.AudioCodec() != "pcma" {
			t.Fatalf("AudioCodec = %q, want pcma\n%s", c.AudioCodec(), c.Answer())
		}
		eventually(t, 3*time.Second, "pcma packets", func() bool { return c.AudioPackets() >= 25 })
	})
	t.Run("aac", func(t *testing.T) {
		t.Parallel()
		srv := newTestServer(t)
		src := newAudioSource(t, newClipSource(t, true), "aac", 48000, 2, nil, 0)
		c := dial(t, serveWHEP(t, srv, src))
		firstFrame(t, c)
		eventually(t, 3*time.Second, "video", func() bool { return c.Frames() >= fps })
		if c.AudioCodec() != "" || c.AudioPackets() != 0 {
			t.Fatalf("audio %q, %d packets from an AAC source", c.AudioCodec(), c.AudioPackets())
		}
		if n := src.audioSubscriptions(); n != 0 {
			t.Fatalf("SubscribeAudio called %d times for AAC", n)
		}
		if !audioInactive(c.Answer()) {
			t.Fatalf("the audio m-line is not inactive:\n%s", c.Answer())
		}
	})
}

// TestTrickle: the offer goes out before gathering and the candidates
// follow in PATCH requests.
func TestTrickle(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := dial(t, serveWHEP(t, srv, newClipSource(t, true)), whepclient.WithTrickle())
	ff := firstFrame(t, c)
	t.Logf("trickle: first frame %v after Dial start", ff)
}

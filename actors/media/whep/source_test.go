package whep

import (
	"bytes"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// The clips are encoded once per test binary (ffmpeg, real codecs).
var (
	clipOnce sync.Once
	clipAUs  [][][]byte
	opusOnce sync.Once
	opusPkts [][]byte
)

// h264Clip is 4 s of 640×360 at 25 fps, an IDR every second, as access
// units the way the relay delivers them.
func h264Clip(t testing.TB) [][][]byte {
	clipOnce.Do(func() {
		clipAUs = testenv.AccessUnits(t, testenv.EncodeH264(t, "testsrc2=s=640x360:r=25", 4))
	})
	if len(clipAUs) == 0 {
		t.Fatal("no H264 clip")
	}
	if !h264.IsRandomAccess(clipAUs[0]) {
		t.Fatal("the clip does not start with an IDR")
	}
	return clipAUs
}

// opusClip is 2 s of a sine as 20 ms Opus packets (libopus via ffmpeg, Ogg
// unwrapped).
func opusClip(t testing.TB) [][]byte {
	opusOnce.Do(func() {
		testenv.NeedFFmpeg(t, "an Opus test clip")
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
			"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-f", "ogg", "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ffmpeg opus: %v: %s", err, stderr.String())
		}
		pkts, err := oggPackets(out)
		if err != nil {
			t.Fatalf("ogg: %v", err)
		}
		if len(pkts) < 3 {
			t.Fatalf("ogg: %d packets", len(pkts))
		}
		opusPkts = pkts[2:] // OpusHead, OpusTags
	})
	if len(opusPkts) == 0 {
		t.Fatal("no Opus clip")
	}
	return opusPkts
}

// oggPackets splits an Ogg stream into packets (RFC 3533: a page header,
// a segment table; a lacing value under 255 ends a packet).
func oggPackets(b []byte) ([][]byte, error) {
	var out [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, fmt.Errorf("bad page at %d bytes from the end", len(b))
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, fmt.Errorf("short segment table")
		}
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			if len(body) < int(l) {
				return nil, fmt.Errorf("short page body")
			}
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				out = append(out, cur)
				cur = nil
			}
		}
		b = body
	}
	return out, nil
}

// clipSource plays a clip in a loop at its frame rate, like a relay
// stream: one continuous pts clock, and (cache) a replay of the current
// GOP from its IDR on subscribe.
type clipSource struct {
	aus    [][][]byte
	period time.Duration
	cache  bool
	start  time.Time

	mu        sync.Mutex
	n         int // access units delivered so far
	gop       []auItem
	subs      map[int]func([][]byte, time.Duration, time.Time)
	nextSub   int
	subscribe int // SubscribeAU calls

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type auItem struct {
	au  [][]byte
	pts time.Duration
	ntp time.Time
}

func newClipSource(t testing.TB, cache bool) *clipSource {
	s := &clipSource{
		aus:    h264Clip(t),
		period: 40 * time.Millisecond,
		cache:  cache,
		start:  time.Now(),
		subs:   map[int]func([][]byte, time.Duration, time.Time){},
		stop:   make(chan struct{}),
	}
	s.wg.Go(s.run)
	t.Cleanup(s.Stop)
	return s
}

// Stop ends the delivery goroutine.
func (s *clipSource) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

func (s *clipSource) run() {
	tick := time.NewTicker(s.period)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		au := s.aus[s.n%len(s.aus)]
		pts := time.Duration(s.n) * s.period
		it := auItem{au: au, pts: pts, ntp: s.start.Add(pts)}
		if h264.IsRandomAccess(au) {
			s.gop = s.gop[:0]
		}
		s.gop = append(s.gop, it)
		s.n++
		for _, fn := range s.subs {
			fn(it.au, it.pts, it.ntp)
		}
		s.mu.Unlock()
	}
}

func (s *clipSource) SubscribeAU(fn func(au [][]byte, pts time.Duration, ntp time.Time)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribe++
	if s.cache {
		for _, it := range s.gop {
			fn(it.au, it.pts, it.ntp)
		}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// position is the number of frames delivered and the index in the GOP of
// the last one.
func (s *clipSource) position() (n, inGOP int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, len(s.gop) - 1
}

func (s *clipSource) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// audioClipSource adds audio to a clipSource: frames every period, each
// call with frames (one Opus packet, or a G.711 block).
type audioClipSource struct {
	*clipSource
	codec           string
	clock, channels int
	frames          [][]byte
	period          time.Duration

	amu      sync.Mutex
	asubs    map[int]func([][]byte, time.Duration, time.Time)
	anext    int
	subAudio int

	stopAudio func()
}

func newAudioSource(t testing.TB, v *clipSource, codec string, clock, channels int, frames [][]byte, period time.Duration) *audioClipSource {
	a := &audioClipSource{
		clipSource: v, codec: codec, clock: clock, channels: channels,
		frames: frames, period: period,
		asubs: map[int]func([][]byte, time.Duration, time.Time){},
	}
	a.stopAudio = func() {}
	if len(frames) > 0 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { a.run(stop) })
		a.stopAudio = sync.OnceFunc(func() { close(stop); wg.Wait() })
	}
	t.Cleanup(a.Stop)
	return a
}

// Stop ends the audio and video delivery goroutines.
func (a *audioClipSource) Stop() {
	a.stopAudio()
	a.clipSource.Stop()
}

func (a *audioClipSource) run(stop chan struct{}) {
	tick := time.NewTicker(a.period)
	defer tick.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		pts := time.Duration(n) * a.period
		f := [][]byte{a.frames[n%len(a.frames)]}
		a.amu.Lock()
		for _, fn := range a.asubs {
			fn(f, pts, start.Add(pts))
		}
		a.amu.Unlock()
	}
}

func (a *audioClipSource) AudioCodec() (string, int, int) { return a.codec, a.clock, a.channels }

func (a *audioClipSource) SubscribeAudio(fn func(frames [][]byte, pts time.Duration, ntp time.Time)) func() {
	a.amu.Lock()
	defer a.amu.Unlock()
	a.subAudio++
	id := a.anext
	a.anext++
	a.asubs[id] = fn
	return func() {
		a.amu.Lock()
		delete(a.asubs, id)
		a.amu.Unlock()
	}
}

func (a *audioClipSource) audioSubscriptions() int {
	a.amu.Lock()
	defer a.amu.Unlock()
	return a.subAudio
}

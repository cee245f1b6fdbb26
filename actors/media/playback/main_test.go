package playback

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/pull"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
)

// The segments every test plays, recorded once by the real recorder from
// fakecam (640x360, 25 fps, IDR every second, 2 Mbps):
//
//	fx.a[0], fx.a[1]  two consecutive 10 s segments
//	fx.a[2]           the short segment ended by Stop right after them
//	fx.b[0]           ~3 s, recorded after a gap of ≥ 2 s
//	fx.c[0]           ~3 s from a 320x240 camera (other SPS), same time as b
//	fx.d[0], fx.d[1]  two consecutive 10 s segments with AAC audio, same
//	                  time as a (fx.d[2] the short one Stop cut)
var fx struct {
	dir        string
	st         *storage.Local
	a, b, c, d []Segment
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "playback-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := recordFixture(dir); err != nil {
			fmt.Fprintln(os.Stderr, "recording the test segments:", err)
			return 1
		}
		return m.Run()
	}())
}

// feed is the camera pull feeding a relay stream, as the stream actor does.
type feed struct{ st *relay.Stream }

func (f feed) OnConnected(desc *description.Session)           { f.st.SetSource(desc) }
func (f feed) OnPacket(m *description.Media, p *rtp.Packet)    { f.st.WritePacket(m, p) }
func (f feed) OnDisconnected(err error, retryIn time.Duration) { f.st.SetSource(nil) }

// collector gathers a recorder's published segments.
type collector struct {
	mu   sync.Mutex
	list []Segment
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 16)} }

func (c *collector) add(s record.Segment) {
	c.mu.Lock()
	c.list = append(c.list, Segment{Key: s.Key, Start: s.Start, End: s.End, Bytes: s.Bytes})
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) get() []Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Segment(nil), c.list...)
}

func recordFixture(dir string) error {
	fx.dir = dir
	st, err := storage.NewLocal(filepath.Join(fx.dir, "store"))
	if err != nil {
		return err
	}
	fx.st = st

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		cam, small, sound          *fakecam.Camera
		camErr, smallErr, soundErr error
		wg                         sync.WaitGroup
	)
	wg.Add(3)
	go func() { defer wg.Done(); cam, camErr = fakecam.Start(ctx, fakecam.Options{Paths: []string{"cam1"}}) }()
	go func() {
		defer wg.Done()
		small, smallErr = fakecam.Start(ctx, fakecam.Options{Paths: []string{"cam2"}, Width: 320, Height: 240})
	}()
	go func() {
		defer wg.Done()
		sound, soundErr = fakecam.Start(ctx, fakecam.Options{Paths: []string{"cam3"}, Width: 320, Height: 240, Audio: fakecam.AudioAAC})
	}()
	wg.Wait()
	for _, c := range []*fakecam.Camera{cam, small, sound} {
		if c != nil {
			defer c.Close()
		}
	}
	if camErr != nil || smallErr != nil || soundErr != nil {
		return fmt.Errorf("fakecam: %v %v %v", camErr, smallErr, soundErr)
	}
	relayOf := func(url, device string) (*relay.Stream, func(), error) {
		s := relay.NewStream(relay.Key{Device: device, Channel: 1})
		p := pull.Start(pull.Config{URL: url, MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}, feed{s})
		stop := func() { p.Close(); s.Close() }
		if err := s.WaitReady(ctx); err != nil {
			stop()
			return nil, nil, err
		}
		return s, stop, nil
	}
	src, stop1, err := relayOf(cam.URL("cam1"), "cam1")
	if err != nil {
		return err
	}
	defer stop1()
	src2, stop2, err := relayOf(small.URL("cam2"), "cam2")
	if err != nil {
		return err
	}
	defer stop2()
	src3, stop3, err := relayOf(sound.URL("cam3"), "cam3")
	if err != nil {
		return err
	}
	defer stop3()

	// a: two full 10 s segments (then Stop cuts a short third one); d
	// likewise, with audio
	ca, cd := newCollector(), newCollector()
	ra, err := record.Start(record.Config{Key: "cam1~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: ca.add}, src)
	if err != nil {
		return err
	}
	rd, err := record.Start(record.Config{Key: "cam3~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: cd.add, Audio: true}, src3)
	if err != nil {
		ra.Stop()
		return err
	}
	for len(ca.get()) < 2 || len(cd.get()) < 2 {
		select {
		case <-ca.ch:
		case <-cd.ch:
		case <-ctx.Done():
			ra.Stop()
			rd.Stop()
			return fmt.Errorf("waiting for 2 segments: %w", ctx.Err())
		}
	}
	ra.Stop()
	rd.Stop()
	// a gap, then b and c
	time.Sleep(2500 * time.Millisecond)
	cb, cc := newCollector(), newCollector()
	rb, err := record.Start(record.Config{Key: "cam1~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: cb.add}, src)
	if err != nil {
		return err
	}
	rc, err := record.Start(record.Config{Key: "cam2~1", SegmentDuration: 10 * time.Second, Storage: st, OnSegment: cc.add}, src2)
	if err != nil {
		rb.Stop()
		return err
	}
	time.Sleep(3 * time.Second)
	rb.Stop()
	rc.Stop()
	fx.a, fx.b, fx.c, fx.d = ca.get(), cb.get(), cc.get(), cd.get()
	if len(fx.a) != 3 || len(fx.b) != 1 || len(fx.c) != 1 || len(fx.d) != 3 {
		return fmt.Errorf("recorded %d+%d+%d+%d segments, want 3+1+1+3", len(fx.a), len(fx.b), len(fx.c), len(fx.d))
	}
	return nil
}

package whep

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/whep/whepclient"
	"github.com/pion/webrtc/v4"
)

// TestCloseNoLeak runs first and alone (not parallel): sessions end by
// DELETE and by the server, the reader count follows, the source is
// unsubscribed, and once the server is closed every goroutine is gone.
func TestCloseNoLeak(t *testing.T) {
	h264Clip(t) // encode outside the measurement
	opusClip(t)
	before := runtime.NumGoroutine()

	srv, err := New(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Loopback: true, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	video := newClipSource(t, true)
	src := newAudioSource(t, video, "opus", 48000, 1, opusClip(t), 20*time.Millisecond)
	hs := serveWHEP(t, srv, src)
	dialNow := func() *whepclient.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := whepclient.Dial(ctx, hs.URL+"/whep", whepclient.WithHTTPClient(hs.Client()))
		if err != nil {
			t.Fatal(err)
		}
		firstFrame(t, c)
		return c
	}

	// 1. The client DELETEs.
	c := dialNow()
	if srv.Readers() != 1 || video.subscribers() != 1 {
		t.Fatalf("readers %d, subscribers %d, want 1, 1", srv.Readers(), video.subscribers())
	}
	closed := make(chan struct{})
	srv.mu.Lock()
	for _, s := range srv.sessions {
		s.OnClose(func() { close(closed) })
	}
	srv.mu.Unlock()
	if err := c.Close(); err != nil {
		t.Fatalf("client Close (DELETE): %v", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called after DELETE")
	}
	if srv.Readers() != 0 || video.subscribers() != 0 {
		t.Fatalf("after DELETE: readers %d, subscribers %d", srv.Readers(), video.subscribers())
	}

	// 2. The server ends the session: the client sees the peer close.
	c = dialNow()
	var sess *Session
	srv.mu.Lock()
	for _, s := range srv.sessions {
		sess = s
	}
	srv.mu.Unlock()
	sess.Close()
	select {
	case <-sess.Done():
	default:
		t.Fatal("Done not closed by Close")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not see the server close the session")
	}
	_ = c.Close() // DELETE of a gone session: 404, ignored
	if srv.Readers() != 0 {
		t.Fatalf("readers %d after Session.Close", srv.Readers())
	}

	// 3. A connected session is ended by Server.Close.
	c = dialNow()
	srv.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not see Server.Close")
	}
	_ = c.Close()
	if _, _, err := srv.Offer(context.Background(), "v=0", video); err == nil {
		t.Fatal("Offer after Close succeeded")
	}
	hs.Close()
	src.Stop()
	srv.Close()

	// Everything the server, the clients and the test started must be
	// gone (slack: one for a runtime or net/http idle goroutine).
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+1 {
			t.Logf("goroutines: %d before, %d after", before, n)
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("goroutines: %d before, %d after:\n%s", before, n, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSessionTimeout: an offer whose peer never connects is closed after
// SessionTimeout.
func TestSessionTimeout(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(c *Config) { c.SessionTimeout = 300 * time.Millisecond })
	src := newClipSource(t, true)
	// The offering peer never gets the answer, so it never connects.
	sess, _, err := srv.Offer(offerCtx(t), pionOffer(t, defaultCodecs), src)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sess.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("unconnected session not closed")
	}
	sess.Close() // waits for the teardown
	if _, ok := srv.Session(sess.ID()); ok || srv.Readers() != 0 || src.subscribers() != 0 {
		t.Fatalf("after timeout: listed %v, readers %d, subscribers %d", ok, srv.Readers(), src.subscribers())
	}
	if err := sess.AddICE(""); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddICE after timeout: %v", err)
	}
}

// TestICETCP: a client that can only do TCP connects through the ICE-TCP
// port.
func TestICETCP(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(c *Config) { c.TCPAddr = "127.0.0.1:0" })
	if srv.TCPAddr() == "" || strings.HasSuffix(srv.TCPAddr(), ":0") || strings.HasSuffix(srv.UDPAddr(), ":0") {
		t.Fatalf("bound addresses udp %q tcp %q", srv.UDPAddr(), srv.TCPAddr())
	}
	c := dial(t, serveWHEP(t, srv, newClipSource(t, true)), whepclient.WithSettingEngine(func(se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}))
	ff := firstFrame(t, c)
	var sess *Session
	srv.mu.Lock()
	for _, s := range srv.sessions {
		sess = s
	}
	srv.mu.Unlock()
	pair, err := sess.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v, %v", pair, err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP {
		t.Fatalf("selected pair %s, want TCP", pair)
	}
	t.Logf("ICE-TCP (%s): first frame %v after Dial start", pair, ff)
}

package whep

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// pionOffer is a complete (gathered) recvonly offer from a pion peer with
// the codecs register puts in its MediaEngine; the peer is closed with the
// test.
func pionOffer(t testing.TB, register func(*webrtc.MediaEngine) error, kinds ...webrtc.RTPCodecType) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := register(me); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.GracefulClose() })
	if len(kinds) == 0 {
		kinds = []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio}
	}
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

func defaultCodecs(me *webrtc.MediaEngine) error { return me.RegisterDefaultCodecs() }

func registerVideo(codecs ...webrtc.RTPCodecCapability) func(*webrtc.MediaEngine) error {
	return func(me *webrtc.MediaEngine) error {
		for i, c := range codecs {
			if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c, PayloadType: webrtc.PayloadType(96 + i)}, webrtc.RTPCodecTypeVideo); err != nil {
				return err
			}
		}
		return me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			PayloadType:        111,
		}, webrtc.RTPCodecTypeAudio)
	}
}

func offerCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBadOffers: what cannot be answered is ErrBadOffer or ErrNoCodec, and
// leaves no session behind.
func TestBadOffers(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	src := &clipSource{} // never subscribed: no offer here gets that far

	good := pionOffer(t, defaultCodecs)
	h264Mode0 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"}
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	var noFingerprint []string
	for _, l := range strings.Split(good, "\r\n") {
		if !strings.HasPrefix(l, "a=fingerprint:") {
			noFingerprint = append(noFingerprint, l)
		}
	}
	for _, tc := range []struct {
		name, sdp string
		want      error
	}{
		{"empty", "", ErrBadOffer},
		{"garbage", "hello, world", ErrBadOffer},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", ErrBadOffer},
		{"video sendonly", strings.Replace(good, "a=recvonly", "a=sendonly", 1), ErrBadOffer},
		{"no fingerprint", strings.Join(noFingerprint, "\r\n"), ErrBadOffer},
		{"VP8 only", pionOffer(t, registerVideo(vp8)), ErrNoCodec},
		{"H264 mode 0 only", pionOffer(t, registerVideo(h264Mode0)), ErrNoCodec},
		{"audio only", pionOffer(t, defaultCodecs, webrtc.RTPCodecTypeAudio), ErrNoCodec},
	} {
		sess, answer, err := srv.Offer(offerCtx(t), tc.sdp, src)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if sess != nil || answer != "" {
			t.Errorf("%s: a session and an answer with an error", tc.name)
		}
	}
	srv.mu.Lock()
	left := len(srv.sessions)
	srv.mu.Unlock()
	if left != 0 || srv.Readers() != 0 {
		t.Fatalf("%d sessions, %d readers left after bad offers", left, srv.Readers())
	}
}

// TestAnswer: a browser-like offer (every pion default codec: VP8, VP9,
// AV1, H.265, H.264 in both packetization modes and four profiles, Opus,
// G.711, G.722) is answered with one H.264 format, mode 1, the most
// capable profile offered; the audio m-line of a source without audio is
// answered inactive; the session id is URL-safe.
func TestAnswer(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(c *Config) { c.PublicIPs = []string{"203.0.113.7"} })
	sess, answer, err := srv.Offer(offerCtx(t), pionOffer(t, defaultCodecs), &clipSource{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`).MatchString(sess.ID()) {
		t.Fatalf("session id %q", sess.ID())
	}
	if got, ok := srv.Session(sess.ID()); !ok || got != sess {
		t.Fatal("Session(id) does not find the session")
	}
	var video []string
	inVideo := false
	for _, l := range strings.Split(answer, "\r\n") {
		if strings.HasPrefix(l, "m=") {
			inVideo = strings.HasPrefix(l, "m=video")
			if inVideo {
				video = append(video, l)
			}
		}
		if inVideo && (strings.HasPrefix(l, "a=rtpmap:") || strings.HasPrefix(l, "a=fmtp:") || l == "a=sendonly") {
			video = append(video, l)
		}
	}
	vs := strings.Join(video, "\n")
	if strings.Count(vs, "a=rtpmap:") != 1 || !strings.Contains(vs, "H264/90000") ||
		!strings.Contains(vs, "packetization-mode=1") || !strings.Contains(vs, "profile-level-id=64") ||
		!strings.Contains(vs, "a=sendonly") {
		t.Fatalf("video answer:\n%s", vs)
	}
	if !audioInactive(answer) {
		t.Fatalf("audio m-line not inactive:\n%s", answer)
	}
	if !strings.Contains(answer, "203.0.113.7") || !strings.Contains(answer, "127.0.0.1") {
		t.Fatalf("answer lacks the public IP or the local candidate:\n%s", answer)
	}
	if strings.Contains(answer, "a=end-of-candidates") == false && strings.Count(answer, "a=candidate:") == 0 {
		t.Fatalf("answer has no candidates:\n%s", answer)
	}
}

// TestAddICE: trickle fragments are parsed as RFC 8840 has them; bad ones
// and ICE restarts are refused.
func TestAddICE(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	offer := pionOffer(t, defaultCodecs)
	sess, _, err := srv.Offer(offerCtx(t), offer, &clipSource{})
	if err != nil {
		t.Fatal(err)
	}
	ufrag := regexp.MustCompile(`a=ice-ufrag:(\S+)`).FindStringSubmatch(offer)[1]
	frag := "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:whatever\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 127.0.0.1 61764 typ host generation 0\r\n" +
		"a=end-of-candidates\r\n"

	f, err := parseSDPFrag(frag)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.candidates) != 1 || *f.candidates[0].SDPMid != "0" || *f.candidates[0].SDPMLineIndex != 0 ||
		!strings.HasPrefix(f.candidates[0].Candidate, "candidate:1387637174 ") || !f.end || f.ufrag != ufrag {
		t.Fatalf("parsed %+v", f)
	}
	if err := sess.AddICE(frag); err != nil {
		t.Fatalf("AddICE: %v", err)
	}
	for name, bad := range map[string]string{
		"not SDP":       "hello\r\n",
		"bad candidate": "a=candidate:1 1 udp notanumber 127.0.0.1 1 typ host\r\n",
	} {
		if err := sess.AddICE(bad); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if err := sess.AddICE("a=ice-ufrag:other\r\na=ice-pwd:new\r\n"); !errors.Is(err, ErrICERestart) {
		t.Errorf("ICE restart: err = %v", err)
	}
	sess.Close()
	if err := sess.AddICE(frag); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v", err)
	}
}

// TestListen: the UDP port forms, and configurations that cannot work are
// refused at New.
func TestListen(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{":0", "0.0.0.0:0", ""} {
		srv := newTestServer(t, func(c *Config) { c.UDPAddr = addr })
		got := srv.UDPAddr()
		if addr == "" && got != "" || addr != "" && (got == "" || strings.HasSuffix(got, ":0")) {
			t.Fatalf("UDPAddr %q: bound %q", addr, got)
		}
		sess, answer, err := srv.Offer(offerCtx(t), pionOffer(t, defaultCodecs), &clipSource{})
		if err != nil {
			t.Fatalf("UDPAddr %q: %v", addr, err)
		}
		if !strings.Contains(answer, "a=candidate:") {
			t.Fatalf("UDPAddr %q: no candidates:\n%s", addr, answer)
		}
		if _, port, _ := strings.Cut(got, ":"); got != "" && !strings.Contains(answer, " "+port+" typ host") {
			t.Fatalf("UDPAddr %q: candidates not on port %s:\n%s", addr, port, answer)
		}
		sess.Close()
	}
	for name, cfg := range map[string]Config{
		"loopback without Loopback": {UDPAddr: "127.0.0.1:0"},
		"bad public IP":             {UDPAddr: "127.0.0.1:0", Loopback: true, PublicIPs: []string{"example.com"}},
		"bad port":                  {UDPAddr: "127.0.0.1:http", Loopback: true},
	} {
		if srv, err := New(cfg); err == nil {
			srv.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

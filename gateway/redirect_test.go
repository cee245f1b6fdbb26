package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// twoChannelDevices answers GetDevice for any id with a 2-channel device.
type twoChannelDevices struct{}

func (twoChannelDevices) Ask(_ context.Context, id string, _ proto.Message) (*pb.DeviceReply, error) {
	return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_OK, Device: &pb.DeviceView{Id: id, Channels: 2}}, nil
}
func (twoChannelDevices) List(context.Context, int, *pb.ListDevices) ([]*pb.DeviceView, string, error) {
	return nil, "", errors.New("not in this test")
}
func (twoChannelDevices) History(context.Context, string, uint64, int) ([]events.Event, error) {
	return nil, errors.New("not in this test")
}
func (twoChannelDevices) Ready() bool { return true }

// nopSeeker is a recording that closes.
type nopSeeker struct{ *bytes.Reader }

func (nopSeeker) Close() error { return nil }

type ownerRig struct {
	h                      http.Handler
	signer                 *token.Signer
	hls, mp4, m3u8, segget atomic.Int32
}

// newOwnerRig is node n1 (10.0.0.1) where device "remote" is owned by n2
// (10.0.0.2) and every other device is local. owner=false leaves Owner nil.
func newOwnerRig(t *testing.T, owner bool) *ownerRig {
	t.Helper()
	r := &ownerRig{signer: token.NewSigner([]byte("cluster-secret-for-tests"))}
	live := &Live{
		Signer: r.signer, Advertise: "10.0.0.1", RTSPPort: 8554, HTTPPort: 8080,
		HLS: func(context.Context, string, int, string) (http.Handler, error) {
			r.hls.Add(1)
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "#EXTM3U\n") }), nil
		},
	}
	if owner {
		live.Owner = func(device string) (OwnerInfo, bool) {
			if device == "remote" {
				return OwnerInfo{Node: "n2", HTTPBase: "http://10.0.0.2:8080", RTSPBase: "rtsp://10.0.0.2:8554"}, false
			}
			return OwnerInfo{}, true
		}
	}
	rec := &Recordings{
		Segment: func(context.Context, string, int, int64) (io.ReadSeekCloser, int64, time.Time, error) {
			r.segget.Add(1)
			return nopSeeker{bytes.NewReader([]byte("seg"))}, 3, time.Now(), nil
		},
		MP4: func(context.Context, string, int, time.Time, time.Time) (io.ReadSeeker, func() error, error) {
			r.mp4.Add(1)
			return bytes.NewReader([]byte("mp4")), func() error { return nil }, nil
		},
		Playlist: func(context.Context, string, int, time.Time, time.Time, func(int64) string) ([]byte, error) {
			r.m3u8.Add(1)
			return []byte("#EXTM3U\n"), nil
		},
	}
	s := New(Config{Devices: twoChannelDevices{}, AdminKey: testAdminKey, Node: "n1", Live: live, Recordings: rec,
		Log: slog.New(slog.DiscardHandler)})
	r.h = s.Handler()
	return r
}

func TestLiveURLsNameTheOwner(t *testing.T) {
	for _, c := range []struct {
		name, device, rtsp, hls, node string
		owner                         bool
	}{
		{"remote", "remote", "rtsp://10.0.0.2:8554/live/remote/2?token=", "http://10.0.0.2:8080/hls/remote/2/index.m3u8?token=", "n2", true},
		{"local", "here", "rtsp://10.0.0.1:8554/live/here/2?token=", "http://10.0.0.1:8080/hls/here/2/index.m3u8?token=", "n1", true},
		{"no owner func", "remote", "rtsp://10.0.0.1:8554/live/remote/2?token=", "http://10.0.0.1:8080/hls/remote/2/index.m3u8?token=", "n1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rig := newOwnerRig(t, c.owner)
			r := do(t, rig.h, "GET", "/v1/devices/"+c.device+"/channels/2/live", testAdminKey, "")
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			var raw map[string]any
			if err := json.Unmarshal(r.body, &raw); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range raw {
				if s, ok := v.(string); ok {
					got[k] = s
				}
			}
			if raw["edge"] != false {
				t.Errorf("edge %v, want false", raw["edge"])
			}
			if !strings.HasPrefix(got["rtsp_url"], c.rtsp) || !strings.HasPrefix(got["hls_url"], c.hls) || got["node"] != c.node {
				t.Fatalf("got %s", r.body)
			}
			tok, err := url.QueryUnescape(strings.TrimPrefix(got["rtsp_url"], c.rtsp))
			if err != nil {
				t.Fatal(err)
			}
			if claims, err := rig.signer.CheckLive(tok, c.device, 2, time.Now()); err != nil || claims.KeyID != AdminKeyID {
				t.Fatalf("token %q: %v", tok, err)
			}
		})
	}
}

func TestHLSRedirectsToOwner(t *testing.T) {
	rig := newOwnerRig(t, true)
	// the owner checks the token: none, bad or good, the answer is the same
	for _, q := range []string{"", "?token=bad", "?token=" + liveToken(rig.signer, "remote", 1)} {
		uri := "/hls/remote/1/index.m3u8" + q
		r := do(t, rig.h, "GET", uri, "", "")
		if r.code != http.StatusTemporaryRedirect || r.header.Get("Location") != "http://10.0.0.2:8080"+uri {
			t.Fatalf("%s: %d Location %q", uri, r.code, r.header.Get("Location"))
		}
	}
	r := do(t, rig.h, "GET", "/hls/remote/1/seg/part7.mp4?token=t&x=1", "", "")
	if r.code != http.StatusTemporaryRedirect || r.header.Get("Location") != "http://10.0.0.2:8080/hls/remote/1/seg/part7.mp4?token=t&x=1" {
		t.Fatalf("segment: %d Location %q", r.code, r.header.Get("Location"))
	}
	if n := rig.hls.Load(); n != 0 {
		t.Fatalf("HLS started %d times for a remote device", n)
	}
	// bad ids are refused here, not redirected
	if r := do(t, rig.h, "GET", "/hls/remote/0/index.m3u8", "", ""); r.code != 404 {
		t.Fatalf("channel 0: %d", r.code)
	}

	// local: token checked here, then served
	if r := do(t, rig.h, "GET", "/hls/here/1/index.m3u8?token=bad", "", ""); r.code != 403 {
		t.Fatalf("local bad token: %d %s", r.code, r.body)
	}
	tok := liveToken(rig.signer, "here", 1)
	if r := do(t, rig.h, "GET", "/hls/here/1/index.m3u8?token="+tok, "", ""); r.code != 200 || rig.hls.Load() != 1 {
		t.Fatalf("local: %d %s, HLS calls %d", r.code, r.body, rig.hls.Load())
	}
}

func TestRecordingsRedirectToOwner(t *testing.T) {
	rig := newOwnerRig(t, true)
	const rng = "?start=2025-01-01T00:00:00Z&end=2025-01-01T01:00:00Z"
	for _, uri := range []string{
		"/v1/devices/remote/channels/1/playback.mp4" + rng,
		"/v1/devices/remote/channels/1/playback.m3u8" + rng,
		"/v1/devices/remote/channels/1/recordings/1735689600000.mp4",
	} {
		r := do(t, rig.h, "GET", uri, testAdminKey, "")
		if r.code != http.StatusTemporaryRedirect || r.header.Get("Location") != "http://10.0.0.2:8080"+uri {
			t.Fatalf("%s: %d Location %q", uri, r.code, r.header.Get("Location"))
		}
		// still authorized here first
		if r := do(t, rig.h, "GET", uri, "", ""); r.code != 401 {
			t.Fatalf("%s without a key: %d", uri, r.code)
		}
	}
	if rig.mp4.Load()+rig.m3u8.Load()+rig.segget.Load() != 0 {
		t.Fatal("a remote device's recordings were read here")
	}

	for _, uri := range []string{
		"/v1/devices/here/channels/1/playback.mp4" + rng,
		"/v1/devices/here/channels/1/playback.m3u8" + rng,
		"/v1/devices/here/channels/1/recordings/1735689600000.mp4",
	} {
		if r := do(t, rig.h, "GET", uri, testAdminKey, ""); r.code != 200 {
			t.Fatalf("local %s: %d %s", uri, r.code, r.body)
		}
	}
	if rig.mp4.Load() != 1 || rig.m3u8.Load() != 1 || rig.segget.Load() != 1 {
		t.Fatalf("local reads: mp4 %d m3u8 %d segment %d", rig.mp4.Load(), rig.m3u8.Load(), rig.segget.Load())
	}
}

func liveToken(s *token.Signer, device string, ch int) string {
	return s.Sign(token.Claims{Kind: token.Live, Device: device, Channel: ch, Expires: time.Now().Add(time.Minute), KeyID: AdminKeyID})
}

// Which token opens what: a live token no recording, a playback token its
// channel's range only, any token of a deleted key nothing.
func TestTokenMatrix(t *testing.T) {
	rig := newOwnerRig(t, true)
	deleted := map[string]bool{}
	rig.signer.KeyCheck = func(id string) bool { return !deleted[id] }
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := func(a, b time.Time) string {
		return "start=" + a.Format(time.RFC3339) + "&end=" + b.Format(time.RFC3339)
	}
	mp4 := "/v1/devices/here/channels/1/playback.mp4?"
	playback := func(key string, a, b time.Time) string {
		return rig.signer.Sign(token.Claims{Kind: token.Playback, Device: "here", Channel: 1, From: a, To: b, Expires: time.Now().Add(time.Minute), KeyID: key})
	}
	for _, tc := range []struct {
		what, uri string
		want      int
	}{
		{"live token on a recording", mp4 + rng(from, from.Add(time.Hour)) + "&token=" + liveToken(rig.signer, "here", 1), 403},
		{"playback token, its range", mp4 + rng(from, from.Add(time.Hour)) + "&token=" + playback("k1", from, from.Add(time.Hour)), 200},
		{"playback token, inside its range", mp4 + rng(from.Add(time.Minute), from.Add(2*time.Minute)) + "&token=" + playback("k1", from, from.Add(time.Hour)), 200},
		{"playback token, past its range", mp4 + rng(from, from.Add(2*time.Hour)) + "&token=" + playback("k1", from, from.Add(time.Hour)), 403},
		{"playback token, another channel", "/v1/devices/here/channels/2/playback.mp4?" + rng(from, from.Add(time.Hour)) + "&token=" + playback("k1", from, from.Add(time.Hour)), 403},
		{"playback token, a segment in range", "/v1/devices/here/channels/1/recordings/1735689600000.mp4?token=" + playback("k1", from, from.Add(time.Hour)), 200},
		{"playback token, a segment after it", "/v1/devices/here/channels/1/recordings/1735700000000.mp4?token=" + playback("k1", from, from.Add(time.Hour)), 403},
		{"deleted key's playback token", mp4 + rng(from, from.Add(time.Hour)) + "&token=" + playback("gone", from, from.Add(time.Hour)), 403},
		{"deleted key's live token on HLS", "/hls/here/1/index.m3u8?token=" + rig.signer.Sign(token.Claims{Kind: token.Live, Device: "here", Channel: 1, Expires: time.Now().Add(time.Minute), KeyID: "gone"}), 403},
	} {
		deleted["gone"] = true
		if r := do(t, rig.h, "GET", tc.uri, "", ""); r.code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.what, r.code, tc.want, r.body)
		}
	}
	// The playback URLs API mints a token for the caller's key and range.
	r := do(t, rig.h, "GET", "/v1/devices/here/channels/1/playback?"+rng(from, from.Add(time.Hour)), testAdminKey, "")
	var got map[string]string
	if err := json.Unmarshal(r.body, &got); err != nil || r.code != 200 {
		t.Fatalf("playback URLs: %d %s", r.code, r.body)
	}
	if r := do(t, rig.h, "GET", got["mp4_url"], "", ""); r.code != 200 {
		t.Errorf("its mp4_url: %d %s", r.code, r.body)
	}
	if c, err := rig.signer.Parse(got["token"], time.Now()); err != nil || c.Kind != token.Playback || c.KeyID != AdminKeyID || !c.To.Equal(from.Add(time.Hour)) {
		t.Errorf("its token: %+v %v", c, err)
	}
	// Without ttl it lasts long enough to watch the hour (and the default
	// lifetime more).
	if exp, err := time.Parse(time.RFC3339, got["expires_at"]); err != nil || time.Until(exp) < time.Hour {
		t.Errorf("a playback token for an hour expires at %s (%v)", got["expires_at"], err)
	}
}

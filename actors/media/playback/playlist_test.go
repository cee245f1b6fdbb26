package playback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hlsServer serves a playlist of segs at /index.m3u8 and the segment
// files at /rec/<key>, all requiring ?token=x (as the API does for
// players without custom headers).
func hlsServer(t *testing.T, segs []Segment) (*httptest.Server, *[]string) {
	t.Helper()
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.Path+" "+r.Header.Get("Range"))
		if r.URL.Query().Get("token") != "x" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/index.m3u8" {
			pl, err := Playlist(r.Context(), open, segs, func(s Segment) string {
				return "/rec/" + s.Key + "?token=" + url.QueryEscape("x")
			})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Write(pl)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, "/rec/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, _, err := fx.st.Open(r.Context(), key)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "seg.mp4", time.Time{}, f)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// Three segments, a gap between the second and the third: a VOD playlist
// that ffmpeg plays through over HTTP, lasting their sum.
func TestPlaylist(t *testing.T) {
	t.Parallel()
	segs := []Segment{fx.a[0], fx.a[1], fx.b[0]}
	srv, _ := hlsServer(t, segs)

	resp, err := http.Get(srv.URL + "/index.m3u8?token=x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	t.Logf("playlist:\n%s", text)
	for _, want := range []string{"#EXTM3U\n", "#EXT-X-VERSION:7\n", "#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-TARGETDURATION:10\n", "#EXT-X-ENDLIST\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("playlist has no %q", want)
		}
	}
	if n := strings.Count(text, "#EXT-X-DISCONTINUITY\n"); n != 2 {
		t.Errorf("%d discontinuities, want 2 (one per new EXT-X-MAP)", n)
	}
	// each file: its init as the map, the rest as the media segment
	mapRE := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"\n#EXT-X-PROGRAM-DATE-TIME:(\S+)\n#EXTINF:([\d.]+),\n#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)\n`)
	ms := mapRE.FindAllStringSubmatch(text, -1)
	if len(ms) != len(segs) {
		t.Fatalf("%d segments listed, want %d", len(ms), len(segs))
	}
	var total float64
	for i, m := range ms {
		seg := segs[i]
		obj := object(t, seg.Key)
		initLen := parseFMP4(t, obj).initSize
		n, _ := strconv.Atoi(m[5])
		o, _ := strconv.Atoi(m[6])
		il, _ := strconv.Atoi(m[2])
		d, _ := strconv.ParseFloat(m[4], 64)
		total += d
		if m[1] != m[7] || !strings.HasSuffix(m[1], seg.Key+"?token=x") || il != initLen || o != initLen || n+o != len(obj) {
			t.Errorf("segment %d: %q", i, m[0])
		}
		if pdt, err := time.Parse(time.RFC3339Nano, m[3]); err != nil || pdt.Sub(seg.Start).Abs() > time.Millisecond {
			t.Errorf("segment %d: program date time %s, start %v", i, m[3], seg.Start)
		}
		if !near(d, dur(seg).Seconds(), 0.001) {
			t.Errorf("segment %d: EXTINF %s, lasts %v", i, m[4], dur(seg))
		}
	}
	if gap := segs[2].Start.Sub(segs[1].End); gap < time.Second {
		t.Errorf("fixture: gap %v", gap)
	}

	// a player without the token is refused
	if resp, err := http.Get(srv.URL + "/index.m3u8"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without token: %v %v", resp.Status, err)
	}
	u := srv.URL + "/index.m3u8?token=x"
	pi := ffprobe(t, u)
	t.Logf("ffprobe %.3f s, EXTINF sum %.3f s, segments %v", pi.Duration, total, sum(segs...))
	if !near(pi.Duration, sum(segs...).Seconds(), 1) || pi.Codec != "h264" {
		t.Errorf("ffprobe %+v, want %v", pi, sum(segs...))
	}
	decodeClean(t, u)
	var want int
	for _, s := range segs {
		want += len(samples(parseFMP4(t, object(t, s.Key))))
	}
	// ffmpeg's HLS demuxer ignores EXT-X-DISCONTINUITY: where decode times
	// go back (every recorded file starts at 0) it loses up to the first
	// GOP (1 s with fakecam) of the segment after. Players that honour the
	// tag (hls.js, Safari, ExoPlayer) do not.
	n := frames(t, u)
	t.Logf("ffmpeg decodes %d frames of %d", n, want)
	if n > want || n < want-25*(len(segs)-1) {
		t.Errorf("ffmpeg decodes %d frames of %d", n, want)
	}
}

// The codec changes between two segments (another resolution): the
// second's own EXT-X-MAP (after a discontinuity) lets players switch.
func TestPlaylistCodecChange(t *testing.T) {
	t.Parallel()
	segs := []Segment{fx.a[1], fx.c[0]}
	srv, _ := hlsServer(t, segs)
	u := srv.URL + "/index.m3u8?token=x"
	pi := ffprobe(t, u)
	if !near(pi.Duration, sum(segs...).Seconds(), 1) {
		t.Errorf("ffprobe %+v, want %v", pi, sum(segs...))
	}
	decodeClean(t, u)
}

func TestPlaylistErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Playlist(ctx, open, nil, func(Segment) string { return "x" }); err != ErrNoRecording {
		t.Errorf("no segments: %v", err)
	}
	if _, err := Playlist(ctx, open, fx.a[:1], func(Segment) string { return `a"b` }); err == nil {
		t.Error("URL with a quote accepted")
	}
	missing := Segment{Key: "cam1~1/2000/01/01/000000.000-missing0.mp4", Start: fx.a[0].Start, End: fx.a[0].End}
	if _, err := Playlist(ctx, open, []Segment{missing}, func(Segment) string { return "x" }); err == nil {
		t.Error("missing object accepted")
	}
}

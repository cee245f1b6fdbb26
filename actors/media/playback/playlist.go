package playback

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Playlist renders an HLS VOD playlist (version 7) in which each recorded
// segment file is one HLS media segment: its init is the EXT-X-MAP
// (BYTERANGE "<init length>@0" of the file) and the rest of the file the
// media segment (EXTINF + EXT-X-BYTERANGE), both at urlOf(seg) — the
// caller adds the access token there, for players without custom headers.
// EXT-X-PROGRAM-DATE-TIME gives each segment's recorded wall-clock start.
//
// Every recorded file's decode times start at 0 and every file brings its
// own EXT-X-MAP, so EXT-X-DISCONTINUITY is in front of every segment but
// the first: gaps (> 1 s between segments) and codec changes are among
// these boundaries, and a player lays segments end to end by their EXTINF
// (gaps closed up, as MP4 does). Players honouring the tag (hls.js,
// Safari, ExoPlayer) play through seamlessly; ffmpeg's HLS demuxer
// ignores it and, where decode times go back, drops up to the first GOP
// of the next segment. (Continuous decode times across files would need
// the files served rewritten, as MP4 does, rather than as recorded.)
//
// EXTINF is End-Start of each segment; the init lengths are read from
// each file's first bytes through open (or the structure cache).
// Segments are listed oldest first (sorted by Start).
func Playlist(ctx context.Context, open Opener, segs []Segment, urlOf func(Segment) string) ([]byte, error) {
	segs = slices.Clone(segs)
	slices.SortStableFunc(segs, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	if len(segs) == 0 {
		return nil, ErrNoRecording
	}
	lays, err := layouts(ctx, open, segs, false)
	if err != nil {
		return nil, err
	}
	target := 1
	for _, s := range segs {
		target = max(target, int(math.Ceil(s.End.Sub(s.Start).Seconds())))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n", target)
	n := 0
	for i, s := range segs {
		l := lays[i]
		u := urlOf(s)
		if u == "" || strings.ContainsAny(u, "\"\r\n") {
			return nil, fmt.Errorf("playback: segment %s: URL %q not usable in a playlist", s.Key, u)
		}
		if l.size <= l.initLen() {
			continue // nothing but an init
		}
		if n > 0 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		n++
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s\",BYTERANGE=\"%d@0\"\n", u, l.initLen())
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Start.UTC().Format("2006-01-02T15:04:05.000Z"))
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n", max(s.End.Sub(s.Start), 0).Seconds())
		fmt.Fprintf(&b, "#EXT-X-BYTERANGE:%d@%d\n%s\n", l.size-l.initLen(), l.initLen(), u)
	}
	if n == 0 {
		return nil, ErrNoRecording
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes(), nil
}

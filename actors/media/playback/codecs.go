package playback

import (
	"context"
	"slices"
)

// VideoCodecs lists the video codecs of segs (segfile.H264, segfile.H265),
// each once, in order of first appearance, and the tallest picture among
// them (0 when no SPS says): what a player must decode, and the size a
// transcode for players that cannot should keep. Only the inits are read
// (or taken from the structure cache).
func VideoCodecs(ctx context.Context, open Opener, segs []Segment) (names []string, height int, err error) {
	if len(segs) == 0 {
		return nil, 0, ErrNoRecording
	}
	lays, err := layouts(ctx, open, segs, false)
	if err != nil {
		return nil, 0, err
	}
	for _, l := range lays {
		if l.size <= l.initLen() {
			continue // nothing but an init
		}
		if c := l.track.VideoCodec(); !slices.Contains(names, c) {
			names = append(names, c)
		}
		if _, h, err := l.track.PictureSize(); err == nil {
			height = max(height, h)
		}
	}
	if len(names) == 0 {
		return nil, 0, ErrNoRecording
	}
	return names, height, nil
}

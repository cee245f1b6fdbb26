// Package playback serves recorded segments (see actors/media/record) to
// players: MP4 joins a time range of consecutive segments into one
// fragmented MP4 with continuous timestamps, served lazily and seekably;
// Playlist lists segments as an HLS VOD playlist whose media segments are
// byte ranges of the recorded files themselves.
//
// A recorded segment is a standalone fMP4 file: an init (ftyp+moov, one
// video track) then moof+mdat fragments, each starting with a keyframe
// (or continuing a GOP longer than a fragment), decode times from 0.
//
// Both functions learn a segment's structure (init size, codec, where
// each fragment is, its time and sequence number) by reading its box
// headers: about one small read per fragment. Segments are immutable once
// published and their keys are never reused, so what was learnt is kept
// in a bounded process-wide cache keyed by storage key and size: a
// player's later Range requests over the same recordings cost no reads
// before the first byte.
package playback

import (
	"context"
	"errors"
	"io"
	"time"
)

// Segment is one recorded file in a playback range, oldest first.
//
// Start is the wall-clock time of the segment's first frame and End-Start
// its duration (the recorder's Segment.Start/End); they place the
// requested range within the segment and name the output's wall-clock
// span. Bytes is the object size: it only validates the structure cache
// (0 = unknown), the size used is the one the Opener reports.
type Segment struct {
	Key        string
	Start, End time.Time
	Bytes      int64
}

// Opener opens a segment's object for reading and returns its size, as
// storage.Storage.Open does.
type Opener func(ctx context.Context, key string) (io.ReadSeekCloser, int64, error)

// Errors.
var (
	// ErrNoRecording: no segment in the range (or none with a keyframe).
	ErrNoRecording = errors.New("playback: no recording in the range")
	// ErrBadRange: from is not before to.
	ErrBadRange = errors.New("playback: empty or reversed range")
	// ErrUnsupported: a segment's structure is outside what this package
	// joins (not a single-track fragmented MP4 with tfdt boxes, …).
	ErrUnsupported = errors.New("playback: unsupported segment structure")
)

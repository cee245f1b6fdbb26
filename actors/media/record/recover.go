package record

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/argus-vms/argus/actors/media/segfile"
	"github.com/argus-vms/argus/actors/media/storage"
)

// Limits of what recovery reads into memory.
const (
	maxInitBytes     = 1 << 20
	maxFragmentBytes = 64 << 20
)

// Recovery is what RecoverPartials did.
type Recovery struct {
	// Published: partials trimmed to their last complete fragment and
	// published under their final key.
	Published []Segment
	// Removed: partial keys deleted (no complete init and fragment).
	Removed []string
}

// Recover finalizes or removes the partial segments left by a crash: a
// partial that holds a complete init and at least one complete fragment is
// trimmed to its last complete fragment and published (returned, so the
// caller can record it); anything else is deleted. Run it before starting
// recorders on st (partials being written by st's own writers are not
// listed, but other processes' are).
func Recover(ctx context.Context, st storage.Storage) ([]Segment, error) {
	rec, err := RecoverPartials(ctx, st)
	return rec.Published, err
}

// RecoverPartials is Recover, also reporting the partials removed.
// Partials that fail are skipped and their errors joined; the others are
// still handled.
func RecoverPartials(ctx context.Context, st storage.Storage) (Recovery, error) {
	var rec Recovery
	parts, err := st.Partials(ctx)
	if err != nil {
		return rec, err
	}
	var errs []error
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		seg, ok, err := recoverOne(ctx, st, p)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("record: recover %s: %w", p, err))
		case ok:
			rec.Published = append(rec.Published, seg)
		default:
			rec.Removed = append(rec.Removed, p)
		}
	}
	return rec, errors.Join(errs...)
}

func recoverOne(ctx context.Context, st storage.Storage, partial string) (Segment, bool, error) {
	r, size, err := st.Open(ctx, partial)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Segment{}, false, nil // gone meanwhile
		}
		return Segment{}, false, err
	}
	end, ticks, frags := inspect(r, size)
	r.Close()
	if frags == 0 {
		return Segment{}, false, st.Delete(ctx, partial)
	}

	key := storage.FinalKey(partial)
	if pp, ok := st.(storage.PartialPublisher); ok {
		if _, err := pp.PublishPartial(ctx, partial, end); err != nil {
			return Segment{}, false, err
		}
	} else {
		// Through Create, under a fresh key: a storage may keep its
		// in-progress object for key under the very name of this partial.
		key = freshKey(key)
		if err := copyPrefix(ctx, st, partial, key, end); err != nil {
			return Segment{}, false, err
		}
	}

	start, _ := parseSegmentKey(key) // zero if the key is not the recorder's
	d := ticksToDuration(ticks)
	return Segment{
		Key:        key,
		Start:      start,
		End:        start.Add(d),
		DurationMS: d.Milliseconds(),
		Bytes:      end,
	}, true, nil
}

// Inspect reads a published segment object and returns it as the
// recorder would have reported it (start from its key, duration from its
// fragments); ok is false when the object is not a sound segment (or not
// one of the recorder's keys). The index is reconciled with storage
// through it (actors/plan).
func Inspect(ctx context.Context, st storage.Storage, key string) (Segment, bool, error) {
	start, ok := parseSegmentKey(key)
	if !ok || storage.IsPartial(key) {
		return Segment{}, false, nil
	}
	r, size, err := st.Open(ctx, key)
	if err != nil {
		return Segment{}, false, err
	}
	defer r.Close()
	_, ticks, frags := inspect(r, size)
	if frags == 0 {
		return Segment{}, false, nil
	}
	d := ticksToDuration(ticks)
	return Segment{Key: key, Start: start, End: start.Add(d), DurationMS: d.Milliseconds(), Bytes: size}, true, nil
}

// freshKey is key with a new random part (never published: no one knows
// the old one).
func freshKey(key string) string {
	base := strings.TrimSuffix(key, ".mp4")
	if i := strings.LastIndexByte(base, '-'); i > strings.LastIndexByte(base, '/') {
		base = base[:i]
	}
	return base + "-" + randomID(8) + ".mp4"
}

// copyPrefix publishes the first n bytes of partial under key through
// Create, then deletes partial.
func copyPrefix(ctx context.Context, st storage.Storage, partial, key string, n int64) error {
	r, _, err := st.Open(ctx, partial)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := st.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(w, r, n); err != nil {
		_ = w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return st.Delete(ctx, partial)
}

// inspect walks an fMP4 segment: ftyp, moov (an H.264 or H.265 track and
// maybe an audio track), then
// moof+mdat fragments. It returns the end offset of the last fragment that
// is complete and sound (sample sizes match its mdat, samples are
// well-formed length-prefixed NALUs, the first sample is a sync sample), the duration up to
// it in 90 kHz ticks and the number of such fragments. A truncated or
// damaged fragment ends the walk.
func inspect(r io.ReadSeeker, size int64) (end, ticks int64, frags int) {
	ftyp, ok := readBoxHeader(r, 0, size)
	if !ok || ftyp.typ != "ftyp" {
		return 0, 0, 0
	}
	moov, ok := readBoxHeader(r, ftyp.end(), size)
	if !ok || moov.typ != "moov" || moov.end() > maxInitBytes {
		return 0, 0, 0
	}
	initBytes, ok := readRange(r, 0, moov.end())
	if !ok {
		return 0, 0, 0
	}
	var init segfile.Init
	if init.Unmarshal(initBytes) != nil || len(init.Tracks) < 1 || len(init.Tracks) > 2 {
		return 0, 0, 0
	}
	track := init.Video()
	if track == nil || track.TimeScale == 0 {
		return 0, 0, 0
	}
	vc := codecOfEntry(track.Codec)
	if vc == nil {
		return 0, 0, 0
	}
	audioID := -1
	if a := init.Audio(); a != nil {
		audioID = a.ID
	}

	off := moov.end()
	var endTime uint64
	for {
		moof, ok := readBoxHeader(r, off, size)
		if !ok || moof.typ != "moof" {
			break
		}
		mdat, ok := readBoxHeader(r, moof.end(), size)
		if !ok || mdat.typ != "mdat" || mdat.end()-off > maxFragmentBytes {
			break
		}
		frag, ok := readRange(r, off, mdat.end())
		if !ok {
			break
		}
		fragEnd, ok := checkFragment(frag, mdat.end()-mdat.start-mdat.hdr, track.ID, audioID, frags == 0, vc)
		if !ok {
			break
		}
		endTime = max(endTime, fragEnd)
		frags++
		off = mdat.end()
	}
	if frags == 0 {
		return 0, 0, 0
	}
	// in the track's timescale: convert to 90 kHz
	t := int64(endTime)
	if track.TimeScale != timescale {
		t = int64(endTime * timescale / uint64(track.TimeScale))
	}
	return off, t, frags
}

// checkFragment parses one moof+mdat (the video track fragment, then
// the audio one if any) and returns the video decode time at its end.
func checkFragment(buf []byte, mdatPayload int64, videoID, audioID int, first bool, vc videoCodec) (uint64, bool) {
	var parts fmp4.Parts
	if parts.Unmarshal(buf) != nil || len(parts) != 1 || len(parts[0].Tracks) < 1 || len(parts[0].Tracks) > 2 {
		return 0, false
	}
	tr := parts[0].Tracks[0]
	if tr.ID != videoID || len(tr.Samples) == 0 {
		return 0, false
	}
	if first && tr.Samples[0].IsNonSyncSample {
		return 0, false
	}
	var total int64
	endTime := tr.BaseTime
	for _, s := range tr.Samples {
		total += int64(len(s.Payload))
		endTime += uint64(s.Duration)
		if !validAVCC(s.Payload, vc) {
			return 0, false
		}
	}
	if len(parts[0].Tracks) == 2 {
		at := parts[0].Tracks[1]
		if at.ID != audioID {
			return 0, false
		}
		for _, s := range at.Samples {
			total += int64(len(s.Payload))
		}
	}
	if total != mdatPayload {
		return 0, false
	}
	return endTime, true
}

// validAVCC checks that payload is a sequence of length-prefixed NALUs
// that fills it exactly, each with a sane header.
func validAVCC(p []byte, vc videoCodec) bool {
	if len(p) == 0 {
		return false
	}
	for len(p) > 0 {
		if len(p) < 5 {
			return false
		}
		n := int(binary.BigEndian.Uint32(p))
		p = p[4:]
		if n < 1 || n > len(p) {
			return false
		}
		if !vc.validNALU(p[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

type boxHeader struct {
	typ   string
	start int64
	size  int64
	hdr   int64
}

func (b boxHeader) end() int64 { return b.start + b.size }

// readBoxHeader reads the header of the box at off; ok only when the whole
// box lies within size.
func readBoxHeader(r io.ReadSeeker, off, size int64) (boxHeader, bool) {
	var b [16]byte
	if off+8 > size {
		return boxHeader{}, false
	}
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return boxHeader{}, false
	}
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return boxHeader{}, false
	}
	h := boxHeader{typ: string(b[4:8]), start: off, size: int64(binary.BigEndian.Uint32(b[:4])), hdr: 8}
	switch h.size {
	case 0: // "to the end of the file": never written by the recorder
		return boxHeader{}, false
	case 1:
		if off+16 > size {
			return boxHeader{}, false
		}
		if _, err := io.ReadFull(r, b[8:16]); err != nil {
			return boxHeader{}, false
		}
		h.size = int64(binary.BigEndian.Uint64(b[8:16]))
		h.hdr = 16
	}
	if h.size < h.hdr || h.size > size-off {
		return boxHeader{}, false
	}
	return h, true
}

func readRange(r io.ReadSeeker, from, to int64) ([]byte, bool) {
	if _, err := r.Seek(from, io.SeekStart); err != nil {
		return nil, false
	}
	buf := make([]byte, to-from)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, false
	}
	return buf, true
}

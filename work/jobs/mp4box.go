package jobs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// The little of MP4 this package reads itself, without ffprobe: an
// output's duration.

// findBox finds the first box of type typ among the boxes in [start,
// end) of r (end -1: to EOF) and returns where its body starts and ends.
func findBox(r io.ReadSeeker, start, end int64, typ string) (body, boxEnd int64, err error) {
	for off := start; end < 0 || off+8 <= end; {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return 0, 0, err
		}
		var h [16]byte
		if _, err := io.ReadFull(r, h[:8]); err != nil {
			return 0, 0, fmt.Errorf("no %s box: %w", typ, err)
		}
		size, hdr := int64(binary.BigEndian.Uint32(h[:4])), int64(8)
		if size == 1 { // a 64-bit size follows
			if _, err := io.ReadFull(r, h[8:16]); err != nil {
				return 0, 0, err
			}
			size, hdr = int64(binary.BigEndian.Uint64(h[8:16])), 16
		}
		if size < hdr || (end >= 0 && off+size > end) {
			return 0, 0, fmt.Errorf("box %q at %d: bad size %d", h[4:8], off, size)
		}
		if string(h[4:8]) == typ {
			return off + hdr, off + size, nil
		}
		off += size
	}
	return 0, 0, fmt.Errorf("no %s box", typ)
}

// mp4Duration is a regular MP4's duration, from its movie header (what
// players and ffprobe show). ffmpeg's last out_time falls short of it by
// the last frame and the encoder's delay.
func mp4Duration(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	body, end, err := findBox(f, 0, -1, "moov")
	if err != nil {
		return 0, err
	}
	if body, end, err = findBox(f, body, end, "mvhd"); err != nil {
		return 0, err
	}
	b := make([]byte, min(end-body, 32))
	if _, err := f.ReadAt(b, body); err != nil {
		return 0, err
	}
	var timescale, dur uint64
	switch {
	case len(b) >= 32 && b[0] == 1: // version 1: 64-bit times
		timescale, dur = uint64(binary.BigEndian.Uint32(b[20:])), binary.BigEndian.Uint64(b[24:])
	case len(b) >= 20 && b[0] == 0:
		timescale, dur = uint64(binary.BigEndian.Uint32(b[12:])), uint64(binary.BigEndian.Uint32(b[16:]))
	default:
		return 0, errors.New("bad mvhd box")
	}
	if timescale == 0 {
		return 0, errors.New("mvhd: no timescale")
	}
	return time.Duration(dur/timescale)*time.Second + time.Duration(dur%timescale*uint64(time.Second)/timescale), nil
}

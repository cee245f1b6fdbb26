// Package segfile is the file format of a recorded segment, shared by the
// recorder (actors/media/record) and the readers (actors/media/playback,
// recovery): a fragmented MP4 with a video track (H.264 or H.265, ID 1,
// 90 kHz) and at most one audio track (ID 2, at its sample rate): AAC,
// Opus, or G.711 stored as is.
//
// mediacommon's fmp4 has no G.711 sample entry: a G.711 track is written
// as its 16-bit LPCM entry (ipcm with pcmC) whose type is then renamed to
// the QuickTime/MP4RA codes alaw or ulaw (same size, so nothing else
// moves; readers such as ffmpeg skip the pcmC child), and renamed back to
// read it.
package segfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Track IDs and the video timescale (the RTP clock of H.264 and H.265).
const (
	VideoTrackID   = 1
	AudioTrackID   = 2
	VideoTimescale = 90000
)

// G711 describes a G.711 track stored as is (one byte per sample).
type G711 struct {
	MULaw        bool
	SampleRate   int
	ChannelCount int
}

// Track is a track of a segment's init. Exactly one of Codec and G711 is
// set.
type Track struct {
	ID        int
	TimeScale uint32
	Codec     codecs.Codec
	G711      *G711
}

// IsVideo reports whether the track is a video track.
func (t Track) IsVideo() bool { return t.Codec != nil && t.Codec.IsVideo() }

// Init is a segment's initialization block (ftyp+moov).
type Init struct {
	Tracks []Track
}

// Video is the video track, nil when there is none.
func (in *Init) Video() *Track {
	for i := range in.Tracks {
		if in.Tracks[i].IsVideo() {
			return &in.Tracks[i]
		}
	}
	return nil
}

// Audio is the audio track, nil when there is none.
func (in *Init) Audio() *Track {
	for i := range in.Tracks {
		if !in.Tracks[i].IsVideo() {
			return &in.Tracks[i]
		}
	}
	return nil
}

// Marshal writes the init.
func (in *Init) Marshal(w io.WriteSeeker) error {
	var ini fmp4.Init
	var renames []rename
	for _, t := range in.Tracks {
		it := &fmp4.InitTrack{ID: t.ID, TimeScale: t.TimeScale, Codec: t.Codec}
		if g := t.G711; g != nil {
			it.Codec = &codecs.LPCM{BitDepth: 16, SampleRate: g.SampleRate, ChannelCount: g.ChannelCount}
			to := "alaw"
			if g.MULaw {
				to = "ulaw"
			}
			renames = append(renames, rename{track: t.ID, from: "ipcm", to: to})
		}
		if it.Codec == nil {
			return errors.New("segfile: track without a codec")
		}
		ini.Tracks = append(ini.Tracks, it)
	}
	if len(renames) == 0 {
		return ini.Marshal(w)
	}
	var buf seekablebuffer.Buffer
	if err := ini.Marshal(&buf); err != nil {
		return err
	}
	b := buf.Bytes()
	for _, r := range renames {
		if !renameEntry(b, r) {
			return errors.New("segfile: G.711 sample entry not found")
		}
	}
	_, err := w.Write(b)
	return err
}

// Unmarshal reads an init (ftyp+moov). Tracks of codecs it does not know
// are left out.
func (in *Init) Unmarshal(b []byte) error {
	b = bytes.Clone(b)
	g711 := map[int]bool{} // track ID → µ-law
	eachTrak(b, func(id int, entry []byte) {
		if typ := string(entry[4:8]); typ == "alaw" || typ == "ulaw" {
			g711[id] = typ == "ulaw"
			copy(entry[4:8], "ipcm") // what mediacommon reads (the pcmC child is there)
		}
	})
	var ini fmp4.Init
	if err := ini.Unmarshal(bytes.NewReader(b)); err != nil {
		return err
	}
	in.Tracks = in.Tracks[:0]
	for _, it := range ini.Tracks {
		t := Track{ID: it.ID, TimeScale: it.TimeScale, Codec: it.Codec}
		if mu, ok := g711[it.ID]; ok {
			l, isLPCM := it.Codec.(*codecs.LPCM)
			if !isLPCM {
				continue
			}
			t.Codec, t.G711 = nil, &G711{MULaw: mu, SampleRate: l.SampleRate, ChannelCount: l.ChannelCount}
		}
		in.Tracks = append(in.Tracks, t)
	}
	return nil
}

// rename changes the type of a track's first sample entry.
type rename struct {
	track    int
	from, to string
}

func renameEntry(b []byte, r rename) bool {
	done := false
	eachTrak(b, func(id int, entry []byte) {
		if id == r.track && string(entry[4:8]) == r.from {
			copy(entry[4:8], r.to)
			done = true
		}
	})
	return done
}

// eachTrak calls fn with each trak's track ID and the header bytes of its
// first sample entry (moov/trak/mdia/minf/stbl/stsd).
func eachTrak(b []byte, fn func(id int, entry []byte)) {
	children(b, func(typ string, body []byte) {
		if typ != "moov" {
			return
		}
		children(body, func(typ string, trak []byte) {
			if typ != "trak" {
				return
			}
			id := -1
			var entry []byte
			children(trak, func(typ string, body []byte) {
				switch typ {
				case "tkhd":
					// version 0: 4 flags, 4 ctime, 4 mtime, then track_ID
					// (version 1: 8-byte times)
					if len(body) >= 24 && body[0] == 1 {
						id = int(binary.BigEndian.Uint32(body[20:]))
					} else if len(body) >= 16 {
						id = int(binary.BigEndian.Uint32(body[12:]))
					}
				case "mdia":
					entry = path(body, "minf", "stbl", "stsd")
				}
			})
			// stsd: version/flags, entry_count, then the entries
			if id >= 0 && len(entry) >= 16 {
				fn(id, entry[8:16])
			}
		})
	})
}

// path returns the body of the box reached through types.
func path(b []byte, types ...string) []byte {
	for _, want := range types {
		var next []byte
		children(b, func(typ string, body []byte) {
			if typ == want && next == nil {
				next = body
			}
		})
		if next == nil {
			return nil
		}
		b = next
	}
	return b
}

// children calls fn with the type and body of each box in b (32-bit sizes,
// as mediacommon writes inits); it stops at a malformed box.
func children(b []byte, fn func(typ string, body []byte)) {
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return
		}
		fn(string(b[4:8]), b[8:size])
		b = b[size:]
	}
}

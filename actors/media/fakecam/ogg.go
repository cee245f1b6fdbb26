package fakecam

import (
	"errors"
	"fmt"
)

// oggPackets returns the packets of an Ogg stream of one logical
// bitstream (what ffmpeg's ogg muxer writes for one audio stream), in
// order (RFC 3533: a page is a 27-byte header, a segment table of lacing
// values and the segments; a lacing value below 255 ends a packet, which
// may continue over pages). Page CRCs are not checked: the input is
// ffmpeg's output or the cache of it, and the caller checks the packets.
func oggPackets(buf []byte) ([][]byte, error) {
	var (
		pkts [][]byte
		cur  []byte
	)
	for page := 0; len(buf) > 0; page++ {
		if len(buf) < 27 || string(buf[:4]) != "OggS" || buf[4] != 0 {
			return nil, fmt.Errorf("ogg page %d: no page header", page)
		}
		nseg := int(buf[26])
		if len(buf) < 27+nseg {
			return nil, fmt.Errorf("ogg page %d: truncated segment table", page)
		}
		lacing, body := buf[27:27+nseg], buf[27+nseg:]
		pos := 0
		for _, l := range lacing {
			if pos+int(l) > len(body) {
				return nil, fmt.Errorf("ogg page %d: truncated", page)
			}
			cur = append(cur, body[pos:pos+int(l)]...)
			pos += int(l)
			if l < 255 {
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		buf = body[pos:]
	}
	if len(pkts) == 0 {
		return nil, errors.New("ogg: no packets")
	}
	return pkts, nil
}

package motion

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/argus-vms/argus/actors/media/relay"
)

// auQueue carries access units from the source's goroutine to ffmpeg's
// stdin without ever blocking the source.
type auQueue struct {
	in      chan relay.Frame
	resync  bool // onAU only (its calls are serialized)
	dropped atomic.Uint64

	mu    sync.Mutex
	codec relay.Codec // of the latest random access point
}

// onAU queues f; when the queue is full, access units are dropped up to
// the next IDR, so that ffmpeg only ever sees whole GOPs (as the recorder
// does).
func (q *auQueue) onAU(f relay.Frame) {
	if f.Random {
		q.mu.Lock()
		q.codec = f.Codec
		q.mu.Unlock()
	}
	if q.resync && !f.Random {
		q.dropped.Add(1)
		return
	}
	select {
	case q.in <- f:
		q.resync = false
	default:
		q.dropped.Add(1)
		q.resync = true
	}
}

// latestCodec is the codec ffmpeg should expect (H.264 before any frame).
func (q *auQueue) latestCodec() relay.Codec {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.codec == "" {
		return relay.CodecH264
	}
	return q.codec
}

// write copies access units of codec as Annex-B to w, from a random access
// point on (a new ffmpeg needs one), each followed by a delimiter (the
// source's own are dropped), until stop, a write fails or a frame of
// another codec comes (dropped: the next run starts at the next random
// access point, in the new codec). It writes what is queued every batch: ffmpeg then wakes a
// few times a second instead of at every access unit, and on a VM each
// wakeup costs more than decoding a frame's worth of bits.
func (q *auQueue) write(w io.Writer, codec relay.Codec, stop <-chan struct{}, batch time.Duration, written *atomic.Int64) {
	var buf []byte
	waitIDR := true
	tick := time.NewTicker(batch)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		buf = buf[:0]
		n := int64(0)
		other := false
	drain:
		for {
			select {
			case f := <-q.in:
				if f.Codec != codec {
					other = true
					break drain
				}
				if waitIDR && !f.Random {
					continue
				}
				waitIDR = false
				buf = appendAnnexB(buf, f.NALUs, codec)
				n++
			default:
				break drain
			}
		}
		if n > 0 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			written.Add(n)
		}
		if other {
			return
		}
	}
}

// appendAnnexB appends au with start codes, without its delimiters, and
// then a delimiter: ffmpeg's parser ends an access unit only when the next
// one starts, so this saves a frame of delay.
func appendAnnexB(buf []byte, au [][]byte, codec relay.Codec) []byte {
	delim := h264AUD
	isAUD := func(n []byte) bool { return h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter }
	if codec == relay.CodecH265 {
		delim = h265AUD
		isAUD = func(n []byte) bool { return h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_AUD_NUT }
	}
	for _, nalu := range au {
		if len(nalu) == 0 || isAUD(nalu) {
			continue
		}
		buf = append(buf, 0, 0, 0, 1)
		buf = append(buf, nalu...)
	}
	return append(buf, delim...)
}

// Access unit delimiters with a start code: H.264 primary_pic_type 7 and
// H.265 pic_type 2 (any slice).
var (
	h264AUD = []byte{0, 0, 0, 1, 9, 0xf0}
	h265AUD = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50}
)

package relay

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// outFormat rewrites sequence numbers and timestamps so that what readers
// see stays continuous when the camera pull reconnects (a new RTP session
// starts from random values).
type outFormat struct {
	format  format.Format
	clock   int
	video   bool // the format of the stream's video codec
	started bool
	rebase  bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

func (f *outFormat) rewrite(pkt *rtp.Packet, now time.Time) {
	if f.rebase {
		f.rebase = false
		if f.started {
			f.seqOff = f.lastSeq + 1 - pkt.SequenceNumber
			elapsed := uint32(0)
			if f.clock > 0 {
				elapsed = uint32(now.Sub(f.lastAt).Seconds() * float64(f.clock))
			}
			f.tsOff = f.lastTS + max(elapsed, 1) - pkt.Timestamp
		}
	}
	pkt.SequenceNumber += f.seqOff
	pkt.Timestamp += f.tsOff
	f.started = true
	f.lastSeq = pkt.SequenceNumber
	f.lastTS = pkt.Timestamp
	f.lastAt = now
}

// ntpOf estimates the wall-clock time of an earlier packet of this format.
func (f *outFormat) ntpOf(ts uint32) time.Time {
	if f.clock <= 0 {
		return f.lastAt
	}
	back := int64(int32(f.lastTS - ts))
	return f.lastAt.Add(-ticksToDuration(back, f.clock))
}

// ticksToDuration converts clock ticks to a duration without overflowing.
func ticksToDuration(ticks int64, clock int) time.Duration {
	c := int64(clock)
	return time.Duration(ticks/c)*time.Second + time.Duration(ticks%c)*time.Second/time.Duration(c)
}

// durationToTicks converts a duration to clock ticks (rounded down)
// without overflowing.
func durationToTicks(d time.Duration, clock int) int64 {
	c := int64(clock)
	return int64(d/time.Second)*c + int64(d%time.Second)*c/int64(time.Second)
}

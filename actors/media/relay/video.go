package relay

import (
	"errors"
	"time"

	"github.com/pion/rtp"
)

// Frame is a video access unit as subscribers get it.
type Frame struct {
	Codec Codec
	// NALUs without start codes; random-access units carry the codec's
	// parameter sets (SPS and PPS; H.265 also VPS) in front.
	NALUs [][]byte
	// PTS is the presentation time on one continuous clock per stream
	// (across source reconnections with the same description).
	PTS time.Duration
	// NTP is the matching wall-clock time.
	NTP time.Time
	// Random: a random access point (IDR, H.265 CRA): decoding and
	// segments may start here.
	Random bool
}

type auEntry struct {
	f   Frame
	pts int64 // 90 kHz
}

// VideoCodec is the codec of the stream's video; ok false while the
// source has none the relay decodes (or no source yet).
func (st *Stream) VideoCodec() (c Codec, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.video == nil {
		return "", false
	}
	return st.video.video.codec(), true
}

func (st *Stream) decodeLocked(vc videoCodec, pkt *rtp.Packet, now time.Time) {
	au, err := vc.decode(pkt)
	var ts uint32
	switch {
	case err == nil:
		// The decoder also ends an access unit when the timestamp changes
		// (cameras without marker bits): then the returned one is the
		// previous, and this packet starts the next.
		if st.decPending && pkt.Timestamp != st.decTS {
			ts = st.decTS
			st.decTS = pkt.Timestamp
		} else {
			ts = pkt.Timestamp
			st.decPending = false
		}
	case errors.Is(err, errMorePackets):
		st.decPending = true
		st.decTS = pkt.Timestamp
		return
	case errors.Is(err, errSkipPacket):
		return
	default:
		st.logger().Debug("video depacketize", "codec", vc.codec(), "err", err)
		return
	}
	if len(au) == 0 {
		return
	}
	st.onAULocked(vc, au, ts, now)
}

func (st *Stream) onAULocked(vc videoCodec, au [][]byte, ts uint32, now time.Time) {
	if !st.ptsOK {
		st.ptsOK = true
		st.lastPTS = 0
		st.lastAUTS = ts
		st.ntpBase = now
	} else {
		st.lastPTS += int64(int32(ts - st.lastAUTS))
		st.lastAUTS = ts
	}
	pts := st.lastPTS

	if vc.learn(au) && st.ss != nil {
		st.ss.ReloadDesc()
	}
	if !vc.hasVCL(au) {
		// parameter sets or SEI alone: kept above, put in front of the next IDR
		return
	}
	au = vc.withParams(au)
	f := Frame{
		Codec:  vc.codec(),
		NALUs:  au,
		PTS:    ticksToDuration(pts, 90000),
		NTP:    st.ntpBase.Add(ticksToDuration(pts, 90000)),
		Random: vc.isRandomAccess(au),
	}

	if f.Random {
		st.gopAUs = append(make([]auEntry, 0, 64), auEntry{f: f, pts: pts})
		st.gopAUsOK = true
		st.idrAU, st.idrCodec, st.idrAt = au, f.Codec, now
	} else if st.gopAUsOK {
		st.gopAUs = append(st.gopAUs, auEntry{f: f, pts: pts})
		if len(st.gopAUs) > maxGOPAUs {
			st.gopAUs, st.gopAUsOK = nil, false
		}
	}

	st.writeHLSLocked(au, pts, f.NTP)
	st.subs.Deliver(f)
}

// SubscribeVideo delivers the stream's decoded video access units (H.264
// or H.265; a source reconnecting with another description may change the
// codec between two frames). When a GOP is cached, delivery starts with
// it, from its random access point, so a recorder or a WebRTC reader can
// start at once; otherwise it starts with the next access unit (wait for
// Frame.Random). fn runs on the source's goroutine with the stream locked:
// it must not block and must not call Stream methods (the returned
// unsubscribe excepted). Once unsubscribe returns, at most a call already
// under way completes.
func (st *Stream) SubscribeVideo(fn func(Frame)) (unsubscribe func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return func() {}
	}
	if st.gopAUsOK {
		for _, e := range st.gopAUs {
			fn(e.f)
		}
	}
	return st.subs.Add(fn)
}

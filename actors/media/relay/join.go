package relay

import (
	"sync"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
)

// join is a reader joining mid-GOP: the cached packets it was sent, per
// track, so that its PLAY response can point at them (RTP-Info).
type join struct {
	st      *Stream
	once    sync.Once
	first   map[int]rtpStart // by track index
	release func()
}

type rtpStart struct {
	seq uint16
	ts  uint32
}

// beginJoin sends the cached GOP to a session about to play and keeps the
// write path locked until release is called (once the PLAY response is
// ready), so the session sees the cached packets then the live ones with
// no gap and no duplicate. It returns nil if sess is not a reader of this
// stream's current ServerStream.
func (st *Stream) beginJoin(sess *gortsplib.ServerSession, replay bool) *join {
	st.mu.Lock()
	if st.closed || st.ss == nil || sess.Stream() != st.ss {
		st.mu.Unlock()
		return nil
	}
	j := &join{st: st}
	j.release = func() { j.once.Do(st.mu.Unlock) }
	if !replay || !st.gopOK {
		return j
	}
	set := make(map[*description.Media]struct{})
	for _, m := range sess.Medias() {
		set[m] = struct{}{}
	}
	j.first = make(map[int]rtpStart)
	send := func(gp gopPkt) {
		if _, ok := set[gp.out.medi]; !ok {
			return
		}
		f := gp.out.formats[gp.pkt.PayloadType]
		if _, ok := j.first[gp.out.index]; !ok {
			j.first[gp.out.index] = rtpStart{seq: gp.pkt.SequenceNumber, ts: gp.pkt.Timestamp}
		}
		if err := sess.WritePacketRTPWithNTP(gp.out.medi, gp.pkt, f.ntpOf(gp.pkt.Timestamp)); err != nil {
			st.logErrLocked("send cached GOP", err)
		}
	}
	for _, gp := range st.gop {
		send(gp)
	}
	for _, gp := range st.pend {
		send(gp)
	}
	return j
}

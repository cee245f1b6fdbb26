package relay

import (
	"time"

	"github.com/argus-vms/argus/actors/media/subs"
	"github.com/pion/rtp"
)

// Limits of the keyframe cache (the packets and access units since the
// last random access point). A GOP larger than this is not cached: new
// readers then start at the next one.
const (
	maxGOPPackets     = 1024
	maxGOPAUs         = 600
	maxPendingPackets = 1024
)

// gopPkt is a packet kept for readers that join mid-GOP.
type gopPkt struct {
	out *outMedia
	pkt *rtp.Packet
}

// videoState is the stream's video: the packet cache of the current GOP
// (RTSP joiners, gop.go), the decoded access units (video.go) and the
// subscribers. Under Stream.mu.
type videoState struct {
	decPending bool
	decTS      uint32
	pend       []gopPkt // packets of the access unit in progress
	pendTS     uint32
	pendIDR    bool
	pendVCL    bool
	gop        []gopPkt // packets since the last random access point
	gopOK      bool
	gopAUs     []auEntry // access units since the last random access point
	gopAUsOK   bool
	idrAU      [][]byte  // the latest random-access unit, kept past GOP limits (Keyframe)
	idrCodec   Codec     // its codec
	idrAt      time.Time // when it arrived
	ptsOK      bool
	lastAUTS   uint32
	lastPTS    int64
	ntpBase    time.Time
	subs       subs.List[Frame]
	gopWarned  bool
}

func (st *Stream) videoPacketLocked(om *outMedia, pkt *rtp.Packet, now time.Time) {
	idr, vcl := om.video.packetInfo(pkt.Payload)
	if len(st.pend) > 0 && pkt.Timestamp != st.pendTS && st.pendVCL {
		st.finishAULocked()
	}
	st.pend = append(st.pend, gopPkt{out: om, pkt: pkt})
	st.pendTS = pkt.Timestamp
	st.pendIDR = st.pendIDR || idr
	st.pendVCL = st.pendVCL || vcl
	if len(st.pend) > maxPendingPackets {
		// no access unit boundary in sight: stop caching until the next IDR
		st.pend = st.pend[:0]
		st.pendIDR, st.pendVCL = false, false
		st.gop, st.gopOK = nil, false
	}

	st.decodeLocked(om.video, pkt, now)

	if pkt.Marker && st.pendVCL {
		st.finishAULocked()
	}
}

// finishAULocked closes the access unit in st.pend: a random-access one
// starts a new cached GOP, any other one extends it.
func (st *Stream) finishAULocked() {
	if st.pendIDR {
		st.gop = st.pend
		st.gopOK = true
		st.pend = make([]gopPkt, 0, 32)
		if !st.ready {
			st.setReadyLocked()
		}
	} else {
		if st.gopOK {
			st.gop = append(st.gop, st.pend...)
			if len(st.gop) > maxGOPPackets {
				st.gop, st.gopOK = nil, false
				if !st.gopWarned {
					st.gopWarned = true
					st.logger().Warn("GOP too large to cache: new readers start at the next IDR", "max_packets", maxGOPPackets)
				}
			}
		}
		st.pend = st.pend[:0]
	}
	st.pendIDR, st.pendVCL = false, false
}

func (st *Stream) appendGOPLocked(p gopPkt) {
	st.gop = append(st.gop, p)
	if len(st.gop) > maxGOPPackets {
		st.gop, st.gopOK = nil, false
	}
}

func (st *Stream) resetVideoLocked() {
	st.pend = nil
	st.pendIDR, st.pendVCL = false, false
	st.gop, st.gopOK = nil, false
	st.gopAUs, st.gopAUsOK = nil, false
	st.decPending = false
}

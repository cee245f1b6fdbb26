package whep

import (
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// readRTCP drains a sender's RTCP. It must run: pion's interceptors (the
// NACK responder, the receiver-report side of sender reports) only see
// RTCP that someone reads. PLI and FIR ask for a keyframe, which a relayed
// camera stream cannot make on demand: they are logged and the next IDR
// comes on the camera's GOP.
func (sess *Session) readRTCP(sender *webrtc.RTPSender, kind string) {
	sess.wg.Go(func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return // the sender is stopped with the peer connection
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					sess.log.Debug("peer asks for a keyframe (waiting for the camera's next IDR)", "track", kind)
				}
			}
		}
	})
}

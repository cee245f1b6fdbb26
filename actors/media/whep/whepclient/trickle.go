package whepclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// trickle PATCHes each gathered candidate once the Location is known.
func (c *Client) trickle() {
	cands := make(chan *webrtc.ICECandidate, 64)
	c.pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		select {
		case cands <- cand:
		case <-c.done:
		}
	})
	c.wg.Go(func() {
		select {
		case <-c.located:
		case <-c.done:
			return
		}
		for {
			var cand *webrtc.ICECandidate
			select {
			case cand = <-cands:
			case <-c.done:
				return
			}
			frag := c.fragment(cand)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := c.patch(ctx, frag)
			cancel()
			if err != nil || cand == nil {
				return // nil: gathering complete, end-of-candidates sent
			}
		}
	})
}

// fragment is an RFC 8840 sdpfrag for one candidate (nil: end of
// candidates), on the offer's first m-line (all of them are bundled).
func (c *Client) fragment(cand *webrtc.ICECandidate) string {
	var b strings.Builder
	local := c.pc.LocalDescription()
	var desc sdp.SessionDescription
	if local != nil && desc.UnmarshalString(local.SDP) == nil && len(desc.MediaDescriptions) > 0 {
		md := desc.MediaDescriptions[0]
		ufrag, _ := md.Attribute("ice-ufrag")
		pwd, _ := md.Attribute("ice-pwd")
		mid, _ := md.Attribute("mid")
		fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=%s\r\na=mid:%s\r\n", ufrag, pwd, md.MediaName.String(), mid)
	}
	if cand == nil {
		b.WriteString("a=end-of-candidates\r\n")
	} else {
		b.WriteString("a=" + cand.ToJSON().Candidate + "\r\n")
	}
	return b.String()
}

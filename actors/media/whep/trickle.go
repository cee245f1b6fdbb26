package whep

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// sdpFrag is a parsed application/trickle-ice-sdpfrag body (RFC 8840).
type sdpFrag struct {
	ufrag, pwd string
	candidates []webrtc.ICECandidateInit
	// end is set by a=end-of-candidates.
	end bool
}

// parseSDPFrag reads the lines of a fragment: session-level ICE
// credentials, then per m-line a=mid and a=candidate lines. Lines it has
// no use for (a=ice-options, a=group, …) are skipped; a line that is not
// "x=..." is malformed.
func parseSDPFrag(body string) (*sdpFrag, error) {
	f := &sdpFrag{}
	mline := -1
	mid := ""
	for n, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return nil, fmt.Errorf("line %d: not an SDP line: %q", n+1, line)
		}
		if line[0] == 'm' {
			mline++
			mid = ""
			continue
		}
		if line[0] != 'a' {
			continue
		}
		key, value, _ := strings.Cut(line[2:], ":")
		switch key {
		case "ice-ufrag":
			f.ufrag = value
		case "ice-pwd":
			f.pwd = value
		case "mid":
			mid = value
		case "end-of-candidates":
			f.end = true
		case "candidate":
			// pion parses it again in AddICECandidate; parsing here makes a
			// bad candidate a 400 before any of the body is applied.
			if _, err := ice.UnmarshalCandidate(value); err != nil && !ignorable(err) {
				return nil, fmt.Errorf("line %d: candidate: %w", n+1, err)
			}
			c := webrtc.ICECandidateInit{Candidate: "candidate:" + value}
			if mid != "" {
				c.SDPMid = &mid
			}
			if mline >= 0 {
				idx := uint16(mline)
				c.SDPMLineIndex = &idx
			}
			if f.ufrag != "" {
				c.UsernameFragment = &f.ufrag
			}
			f.candidates = append(f.candidates, c)
		}
	}
	return f, nil
}

// ignorable: candidates pion discards rather than rejects (an unknown
// type, an mDNS .local name it cannot place): the browser sends them
// routinely.
func ignorable(err error) bool {
	return errors.Is(err, ice.ErrUnknownCandidateTyp) || errors.Is(err, ice.ErrDetermineNetworkType)
}

// AddICE applies a trickle-ice-sdpfrag PATCH body (RFC 8840, RFC 9725
// section 4.3): the peer's candidates found after its offer. A fragment
// with new ICE credentials is an ICE restart (ErrICERestart); a malformed
// one wraps ErrBadRequest.
func (sess *Session) AddICE(sdpfrag string) error {
	select {
	case <-sess.done:
		return ErrClosed
	default:
	}
	f, err := parseSDPFrag(sdpfrag)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if f.ufrag != "" && sess.ufrag != "" && f.ufrag != sess.ufrag {
		return ErrICERestart
	}
	for _, c := range f.candidates {
		if err := sess.pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("%w: candidate %q: %v", ErrBadRequest, c.Candidate, err)
		}
	}
	if f.end {
		if err := sess.pc.AddICECandidate(webrtc.ICECandidateInit{}); err != nil {
			sess.log.Debug("end of candidates", "err", err)
		}
	}
	return nil
}

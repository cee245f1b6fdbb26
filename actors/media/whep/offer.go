package whep

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// offerPlan is what the server will send for an offer: the one H.264
// format it answers with, and the audio format (nil: no audio track).
type offerPlan struct {
	video webrtc.RTPCodecParameters
	audio *webrtc.RTPCodecParameters
	// audioWhy says why there is no audio (for the log).
	audioWhy string
	// audioHold, without audio, is the offer's first audio format: it is
	// registered only so that pion keeps the audio m-line (a MediaEngine
	// without a matching codec makes it answer port 0, an m-line without
	// a=mid that some browsers refuse) and the section can be answered
	// a=inactive instead. Nothing is ever sent with it.
	audioHold *webrtc.RTPCodecParameters
	// ufrag is the offer's ICE username fragment: a trickle PATCH with
	// another one is an ICE restart.
	ufrag string
}

// offerFormat is one payload type of an m-line.
type offerFormat struct {
	pt       uint8
	name     string // as in rtpmap, e.g. "H264", "opus"
	clock    uint32
	channels uint16
	fmtp     string
}

// planOffer checks the offer and picks the formats. It does the codec
// choice itself rather than leaving it to pion's matching, which falls
// back to "same MIME type" and so would answer packetization-mode=0 or an
// unknown profile with a format we would then violate.
func planOffer(offerSDP string, audio AudioSource) (*offerPlan, error) {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offerSDP); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if len(desc.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no media", ErrBadOffer)
	}
	plan := &offerPlan{}
	if u, ok := desc.Attribute("ice-ufrag"); ok {
		plan.ufrag = u
	}

	var videoMD, audioMD *sdp.MediaDescription
	for _, md := range desc.MediaDescriptions {
		if plan.ufrag == "" {
			if u, ok := md.Attribute("ice-ufrag"); ok {
				plan.ufrag = u
			}
		}
		if md.MediaName.Port.Value == 0 { // a rejected or disabled m-line
			continue
		}
		switch md.MediaName.Media {
		case "video":
			if videoMD == nil {
				videoMD = md
			}
		case "audio":
			if audioMD == nil {
				audioMD = md
			}
		}
	}
	if videoMD == nil {
		return nil, fmt.Errorf("%w: no video m-line", ErrNoCodec)
	}
	if !receives(&desc, videoMD) {
		return nil, fmt.Errorf("%w: the video m-line does not receive", ErrBadOffer)
	}
	video, ok := pickH264(formatsOf(videoMD))
	if !ok {
		return nil, ErrNoCodec
	}
	plan.video = video

	switch {
	case audio == nil:
		plan.audioWhy = "source has no audio"
	case audioMD == nil:
		plan.audioWhy = "offer has no audio m-line"
	case !receives(&desc, audioMD):
		plan.audioWhy = "offer does not receive audio"
	default:
		plan.audio, plan.audioWhy = pickAudio(formatsOf(audioMD), audio)
	}
	if plan.audio == nil && audioMD != nil {
		if fs := formatsOf(audioMD); len(fs) > 0 {
			f := fs[0]
			plan.audioHold = &webrtc.RTPCodecParameters{
				RTPCodecCapability: webrtc.RTPCodecCapability{
					MimeType: "audio/" + f.name, ClockRate: f.clock, Channels: f.channels, SDPFmtpLine: f.fmtp,
				},
				PayloadType: webrtc.PayloadType(f.pt),
			}
		}
	}
	return plan, nil
}

// receives reports whether the offerer receives on md (no direction
// attribute means sendrecv, RFC 3264 section 5.1; a media-level one
// overrides the session-level one).
func receives(desc *sdp.SessionDescription, md *sdp.MediaDescription) bool {
	dir := "sendrecv"
	for _, attrs := range [][]sdp.Attribute{desc.Attributes, md.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				dir = a.Key
			}
		}
	}
	return dir == "sendrecv" || dir == "recvonly"
}

// formatsOf lists the m-line's payload types in preference order, with
// the static RTP/AVP ones that need no rtpmap (RFC 3551).
func formatsOf(md *sdp.MediaDescription) []offerFormat {
	rtpmap := map[string]string{}
	fmtp := map[string]string{}
	for _, a := range md.Attributes {
		pt, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		switch a.Key {
		case "rtpmap":
			rtpmap[pt] = strings.TrimSpace(rest)
		case "fmtp":
			fmtp[pt] = strings.TrimSpace(rest)
		}
	}
	var out []offerFormat
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		of := offerFormat{pt: uint8(pt), fmtp: fmtp[f]}
		m, ok := rtpmap[f]
		switch {
		case ok:
			parts := strings.Split(m, "/")
			of.name = parts[0]
			if len(parts) > 1 {
				c, _ := strconv.ParseUint(parts[1], 10, 32)
				of.clock = uint32(c)
			}
			if len(parts) > 2 {
				c, _ := strconv.ParseUint(parts[2], 10, 16)
				of.channels = uint16(c)
			}
		case pt == 0:
			of.name, of.clock = "PCMU", 8000
		case pt == 8:
			of.name, of.clock = "PCMA", 8000
		default:
			continue
		}
		out = append(out, of)
	}
	return out
}

// fmtpParams splits "a=1;b=2".
func fmtpParams(line string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			out[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// pickH264 chooses among the offer's H.264 packetization-mode=1 formats
// (mode 0 would mean one NALU per packet: no FU-A for large slices). The
// profile-level-id only says what the browser can decode; the camera's
// profile is not known at offer time, so take the most capable one
// offered (High > Main > Constrained Baseline > Baseline): a decoder that
// claims High decodes what a camera sends, and browsers in practice decode
// High whatever was negotiated anyway.
func pickH264(formats []offerFormat) (webrtc.RTPCodecParameters, bool) {
	best, bestRank := -1, -1
	for i, f := range formats {
		if !strings.EqualFold(f.name, "H264") || f.clock != 90000 {
			continue
		}
		p := fmtpParams(f.fmtp)
		if p["packetization-mode"] != "1" {
			continue
		}
		if r := h264Rank(p["profile-level-id"]); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return webrtc.RTPCodecParameters{}, false
	}
	f := formats[best]
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: f.fmtp,
		},
		PayloadType: webrtc.PayloadType(f.pt),
	}, true
}

func h264Rank(profileLevelID string) int {
	if len(profileLevelID) < 4 {
		return 0 // absent: Baseline by default (RFC 6184 section 8.1)
	}
	switch strings.ToLower(profileLevelID[:2]) {
	case "64":
		return 4
	case "4d":
		return 3
	case "42":
		// constraint_set1_flag (0x40) makes it Constrained Baseline
		if c, err := strconv.ParseUint(profileLevelID[2:4], 16, 8); err == nil && c&0x40 != 0 {
			return 2
		}
		return 1
	}
	return 0 // e.g. High 4:4:4: not what a camera sends
}

// pickAudio matches the source's codec with the offer. AAC has no RTP
// payload format browsers take; G.711 in WebRTC is 8 kHz mono only.
func pickAudio(formats []offerFormat, src AudioSource) (*webrtc.RTPCodecParameters, string) {
	codec, clock, channels := src.AudioCodec()
	var mime, name string
	switch codec {
	case "opus":
		mime, name = webrtc.MimeTypeOpus, "opus"
	case "pcmu", "pcma":
		if clock != 8000 || channels > 1 {
			return nil, fmt.Sprintf("%s at %d Hz × %d is not WebRTC G.711 (8 kHz mono)", codec, clock, channels)
		}
		mime, name = "audio/"+strings.ToUpper(codec), strings.ToUpper(codec)
	case "":
		return nil, "source has no audio"
	default:
		return nil, "source audio " + codec + " cannot be sent over WebRTC"
	}
	for _, f := range formats {
		if !strings.EqualFold(f.name, name) {
			continue
		}
		c := webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: f.clock, SDPFmtpLine: f.fmtp},
			PayloadType:        webrtc.PayloadType(f.pt),
		}
		if name == "opus" {
			// Opus is always opus/48000/2 in SDP (RFC 7587), whatever the
			// stream's channel count.
			if f.clock != 48000 || f.channels != 2 {
				continue
			}
			c.Channels = 2
		} else if f.clock != 8000 {
			continue
		}
		return &c, ""
	}
	return nil, "offer does not accept " + codec
}

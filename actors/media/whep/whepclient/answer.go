package whepclient

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// audioCodecOf is the codec of the answer's first accepted audio m-line.
func audioCodecOf(answer string) string {
	var desc sdp.SessionDescription
	if desc.UnmarshalString(answer) != nil {
		return ""
	}
	for _, md := range desc.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 || len(md.MediaName.Formats) == 0 {
			continue
		}
		if _, ok := md.Attribute("inactive"); ok {
			continue
		}
		for _, a := range md.Attributes {
			if pt, rest, ok := strings.Cut(a.Value, " "); a.Key == "rtpmap" && ok && pt == md.MediaName.Formats[0] {
				name, _, _ := strings.Cut(rest, "/")
				return strings.ToLower(name)
			}
		}
		switch md.MediaName.Formats[0] {
		case "0":
			return "pcmu"
		case "8":
			return "pcma"
		}
	}
	return ""
}

package jobs

import (
	"strconv"
	"strings"
	"time"
)

// fontFile is the burnt-in clock's font (Debian's fonts-dejavu-core).
const fontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// clockFormat is the burnt-in clock (strftime, UTC).
const clockFormat = "%Y-%m-%d %H:%M:%S"

// clockFilter is a drawtext filter (filtergraph syntax) burning in the
// wall-clock time of each frame: clock is the time of pts 0. drawtext's
// pts:gmtime function adds its offset argument (seconds) to the frame's
// pts, so the text is exact to the frame. (A gap in the recordings
// inside the range is closed up in the joined input: after it the clock
// runs behind the wall clock by the gap.)
func clockFilter(clock time.Time) string {
	return drawtext(clockText(clock))
}

// clockText is drawtext's text: %{pts:gmtime:<epoch seconds>:<format>}.
func clockText(clock time.Time) string {
	epoch := strconv.FormatFloat(float64(clock.UnixMilli())/1000, 'f', 3, 64)
	return "%{pts:gmtime:" + expansionArg(epoch) + ":" + expansionArg(clockFormat) + "}"
}

// drawtext is the filter drawing text (in drawtext's expansion syntax)
// in a box at the top left, sized to the picture.
func drawtext(text string) string {
	opts := [][2]string{
		{"fontfile", fontFile},
		{"text", text},
		{"fontsize", "max(14,h/20)"},
		{"fontcolor", "white"},
		{"box", "1"},
		{"boxcolor", "black"},
		{"boxborderw", "4"},
		{"x", "8"},
		{"y", "8"},
	}
	var b strings.Builder
	b.WriteString("drawtext=")
	for i, o := range opts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(o[0] + "=" + graphQuote(optionValue(o[1])))
	}
	return b.String()
}

// A drawtext text goes through three parsers, outermost first; each
// unescapes what the next must see:
//
//  1. the filtergraph parser splits filters at , ; [ ] and removes one
//     level of quoting ('…') and backslashes (graphQuote);
//  2. the filter's option parser splits options at : and removes another
//     level (optionValue);
//  3. drawtext's text expansion splits a %{function:arg:…} at : and }
//     and removes a third (expansionArg).
//
// So "%H:%M" in a gmtime format becomes %H\:%M (3), then %H\\\:%M (2),
// then, quoted, '…%H\\\:%M…' (1).

// expansionArg escapes an argument of a %{…} function of drawtext's text.
func expansionArg(s string) string { return backslash(s, `\':}`) }

// optionValue escapes a filter option's value.
func optionValue(s string) string { return backslash(s, `\':`) }

// graphQuote quotes a string for the filtergraph parser: inside '…'
// everything is literal but the quote itself, which is closed, escaped
// and reopened.
func graphQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// backslash puts a backslash before every character of s in special.
func backslash(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

package jobs

import (
	"os"
	"testing"
	"time"
)

// The filter text is the one known to work through ffmpeg's three
// parsers (see timestamp.go).
func TestClockFilterEscaping(t *testing.T) {
	clock := time.Date(2024, 5, 1, 12, 0, 3, 500_000_000, time.UTC)
	want := `drawtext=fontfile='/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'` +
		`:text='%{pts\:gmtime\:1714564803.500\:%Y-%m-%d %H\\\:%M\\\:%S}'` +
		`:fontsize='max(14,h/20)':fontcolor='white':box='1':boxcolor='black':boxborderw='4':x='8':y='8'`
	if got := clockFilter(clock); got != want {
		t.Errorf("clockFilter\n got %s\nwant %s", got, want)
	}
	if got := graphQuote(optionValue(`it's a:b`)); got != `'it\'\''s a\:b'` {
		t.Errorf("quoted %s", got)
	}
}

// Text with every character special to one of the parsers is drawn
// (ffmpeg accepts the filter) and drawn as a literal: the frame equals
// the one drawn from the same text quoted another way (a textfile).
func TestDrawtextSpecialCharacters(t *testing.T) {
	recording(t)
	text := `it's 100% [a:b], c;d \ e {f}`
	file := t.TempDir() + "/text.txt"
	if err := os.WriteFile(file, []byte(literalText(text)), 0o644); err != nil {
		t.Fatal(err)
	}
	viaText := grayFrame(t, drawtext(literalText(text)), "-f", "lavfi", "-i", "color=c=black:s=320x180:r=25")
	viaFile := grayFrame(t, "drawtext=fontfile="+graphQuote(optionValue(fontFile))+":textfile="+graphQuote(optionValue(file))+
		":fontsize='max(14,h/20)':fontcolor=white:box=1:boxcolor=black:boxborderw=4:x=8:y=8",
		"-f", "lavfi", "-i", "color=c=black:s=320x180:r=25")
	if string(viaText) != string(viaFile) {
		t.Error("the text option draws another text than the text file")
	}
	if blank := make([]byte, len(viaText)); string(viaText) == string(blank) {
		t.Error("nothing drawn")
	}
}

// literalText escapes text for drawtext's expansion: drawn as is.
func literalText(s string) string { return backslash(s, `\%`) }

// checkClock compares the burnt-in clock of the frame at `at` in the
// 320x180 video at path with drawtext's own rendering of want: the text
// box must match it closely, and texts a second off (wrong) much less.
func checkClock(t *testing.T, path string, at time.Duration, want string, wrong ...string) {
	t.Helper()
	frame := grayFrame(t, "", "-ss", seconds(at), "-i", path)
	ref := func(text string) []byte {
		return grayFrame(t, drawtext(literalText(text)), "-f", "lavfi", "-i", "color=c=black:s=320x180:r=25")
	}
	r := ref(want)
	if len(frame) != len(r) {
		t.Fatalf("frame of %d pixels, reference %d", len(frame), len(r))
	}
	// the text: where the reference is bright
	const width = 320
	x0, y0, x1, y1 := width, len(r)/width, 0, 0
	for i, v := range r {
		if v >= 128 {
			x, y := i%width, i/width
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
	}
	if x1 <= x0 || y1 <= y0 {
		t.Fatal("the reference draws no text")
	}
	differ := func(a, b []byte) int {
		n := 0
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				if d := int(a[y*width+x]) - int(b[y*width+x]); d > 96 || d < -96 {
					n++
				}
			}
		}
		return n
	}
	got := differ(frame, r)
	area := (x1 - x0 + 1) * (y1 - y0 + 1)
	t.Logf("clock at %v: %d of %d text pixels differ from %q", at, got, area, want)
	if got > area/50 {
		t.Errorf("clock at %v: the text differs from %q in %d of %d pixels", at, want, got, area)
	}
	for _, w := range wrong {
		n := differ(frame, ref(w))
		t.Logf("clock at %v: %d pixels differ from %q", at, n, w)
		if n <= 3*got+10 {
			t.Errorf("clock at %v: as close to %q (%d pixels differ) as to %q (%d)", at, w, n, want, got)
		}
	}
}

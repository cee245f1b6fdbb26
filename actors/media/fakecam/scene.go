package fakecam

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The picture of a view is a window onto a still scene: a plane in
// "generic" units where the point (pan, tilt) is what the PTZ head points
// at. The window is centred on (pan, tilt) and is 2·halfWidth units wide
// (the height follows the aspect ratio): zoom 0 shows 2 units across,
// zoom 1 one unit. The scene is a colour gradient (red grows to the
// right, green upwards) with a checkerboard of 0.25-unit cells, grid
// lines every 0.25 (brighter ones at whole units, brightest through the
// home position 0,0) labelled with their coordinates along the top and
// left edges. A crosshair marks the centre, and the bottom-left corner
// says where the head points. renderView draws it once per view; ffmpeg
// then adds the moving parts (clock, motion box) to every frame.

// halfWidth is the window's half-width in scene units at a zoom step.
func halfWidth(zoomStep int8) float64 { return 1 - 0.25*float64(zoomStep) }

// viewLayout places the moving parts of a view's picture (all even, for
// yuv420p): the clock (a small testsrc2) in the bottom-right corner, the
// motion box's band below the centre. Tests crop around them.
type viewLayout struct {
	margin           int
	clockW, clockH   int // at (w-margin-clockW, h-margin-clockH)
	boxW, boxH, boxY int // the box crosses the picture at boxY
	scale            int // text pixels per font pixel
}

func even(v int) int { return v &^ 1 }

func layoutFor(w, h int) viewLayout {
	l := viewLayout{
		margin: max(2, even(h/45)),
		clockW: max(16, even(w/4)),
		clockH: max(16, even(h/4)),
		boxW:   max(4, even(w/8)),
		boxH:   max(4, even(h/6)),
		boxY:   even(h * 55 / 100),
		scale:  max(1, h/180),
	}
	l.clockW, l.clockH = min(l.clockW, even(w)), min(l.clockH, even(h))
	return l
}

// rgb is a colour, each channel 0..1.
type rgb struct{ r, g, b float64 }

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// canvas is an RGB picture being drawn, 8 bits a channel.
type canvas struct {
	w, h int
	px   []byte // r, g, b of each pixel, rows top to bottom
}

func to8(v float64) byte { return byte(min(max(math.Round(v*255), 0), 255)) }

func (c *canvas) set(i int, col rgb) {
	c.px[3*i], c.px[3*i+1], c.px[3*i+2] = to8(col.r), to8(col.g), to8(col.b)
}

func (c *canvas) fill(x0, y0, x1, y1 int, col rgb) {
	for y := max(y0, 0); y < min(y1, c.h); y++ {
		for x := max(x0, 0); x < min(x1, c.w); x++ {
			c.set(y*c.w+x, col)
		}
	}
}

var (
	textColor = rgb{1, 1, 1}
	textBack  = rgb{0.05, 0.05, 0.08}
)

// textSize is the size of s drawn at scale, with its background padding.
func textSize(s string, scale int) (w, h int) {
	return (len(s)*6-1)*scale + 2*scale, 7*scale + 2*scale
}

// text draws s with its top-left corner (background included) at x, y.
func (c *canvas) text(x, y int, s string, scale int) {
	w, h := textSize(s, scale)
	c.fill(x, y, x+w, y+h, textBack)
	for i, ch := range s {
		g, ok := font[ch]
		if !ok {
			g = font['?']
		}
		for row := range 7 {
			for col := range 5 {
				if g[row][col] != '#' {
					continue
				}
				px, py := x+scale+(i*6+col)*scale, y+scale+row*scale
				c.fill(px, py, px+scale, py+scale, textColor)
			}
		}
	}
}

// gridLine says whether scene coordinate u (units) at pixel pitch upp
// (units per pixel) lies on a grid line, and which: 0 none, 1 every 0.25,
// 2 whole units, 3 the home axis (0).
func gridLine(u, upp float64, lw int) int {
	halfPx := (float64(lw) / 2) * upp
	q := math.Round(u * 4)
	if math.Abs(u-q/4) >= halfPx {
		return 0
	}
	switch {
	case q == 0:
		return 3
	case int(q)%4 == 0:
		return 2
	}
	return 1
}

// coord formats a grid coordinate: 0, +0.25, -0.5, +1.
func coord(v float64) string {
	if math.Abs(v) < 1e-9 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if v > 0 {
		s = "+" + s
	}
	return s
}

// describe is the picture's caption of a view.
func describe(k viewKey) string {
	v := k.view()
	s := fmt.Sprintf("PAN %s TILT %s ZOOM %s", coord(v.Pan), coord(v.Tilt), strings.TrimPrefix(coord(v.Zoom), "+"))
	if k.motion {
		s += " MOTION"
	}
	return s
}

// renderView draws the still part of view k's picture at w x h and
// returns it as one yuv420p frame (BT.601, limited range, as ffmpeg's
// default RGB conversion).
func renderView(w, h int, k viewKey) []byte {
	v := k.view()
	l := layoutFor(w, h)
	upp := 2 * halfWidth(k.zoom) / float64(w) // units per pixel, square pixels
	lw := l.scale                             // line width in pixels
	us := make([]float64, w)
	ulines := make([]int, w)
	for x := range w {
		us[x] = v.Pan + (float64(x)+0.5-float64(w)/2)*upp
		ulines[x] = gridLine(us[x], upp, lw)
	}
	vs := make([]float64, h)
	vlines := make([]int, h)
	for y := range h {
		vs[y] = v.Tilt - (float64(y)+0.5-float64(h)/2)*upp
		vlines[y] = gridLine(vs[y], upp, lw)
	}
	lineColors := [...]rgb{{}, {0.85, 0.85, 0.85}, {1, 0.92, 0.55}, {1, 1, 1}}
	lineAlpha := [...]float64{0, 0.45, 0.75, 0.95}
	c := &canvas{w: w, h: h, px: make([]byte, 3*w*h)}
	for y := range h {
		for x := range w {
			u, t := us[x], vs[y]
			col := rgb{0.42 + 0.2*u, 0.42 + 0.2*t, 0.5 - 0.08*(u+t)}
			if (int(math.Floor(u*4))+int(math.Floor(t*4)))%2 == 0 {
				col = mix(col, rgb{1, 1, 1}, 0.12)
			} else {
				col = mix(col, rgb{0, 0, 0}, 0.12)
			}
			if g := max(ulines[x], vlines[y]); g > 0 {
				col = mix(col, lineColors[g], lineAlpha[g])
			}
			c.set(y*w+x, col)
		}
	}

	// Labels of the vertical lines along the top, of the horizontal ones
	// down the left, where they fit without overlapping.
	pad := 2 * l.scale
	_, th := textSize("0", l.scale)
	next := 0
	for q := math.Ceil((us[0]) * 4); q/4 <= us[w-1]; q++ {
		s := coord(q / 4)
		tw, _ := textSize(s, l.scale)
		x := int(math.Round((q/4-v.Pan)/upp+float64(w)/2)) - tw/2
		if x < next || x+tw > w {
			continue
		}
		c.text(x, pad, s, l.scale)
		next = x + tw + 2*l.scale
	}
	next = pad + th + l.scale
	for q := math.Floor(vs[0] * 4); q/4 >= vs[h-1]; q-- {
		s := coord(q / 4)
		y := int(math.Round((v.Tilt-q/4)/upp+float64(h)/2)) - th/2
		if y < next || y+th > h-l.margin-2*th {
			continue
		}
		c.text(pad, y, s, l.scale)
		next = y + th + l.scale
	}

	// The crosshair: where the head points.
	cx, cy, arm := w/2, h/2, max(4, h/14)
	dark := rgb{0, 0, 0}
	c.fill(cx-arm-1, cy-lw/2-1, cx+arm+1, cy+lw-lw/2+1, dark)
	c.fill(cx-lw/2-1, cy-arm-1, cx+lw-lw/2+1, cy+arm+1, dark)
	c.fill(cx-arm, cy-lw/2, cx+arm, cy+lw-lw/2, rgb{1, 0.2, 0.2})
	c.fill(cx-lw/2, cy-arm, cx+lw-lw/2, cy+arm, rgb{1, 0.2, 0.2})

	// The caption, bottom left (the clock takes the bottom right).
	caption := describe(k)
	if cw, _ := textSize(caption, l.scale); cw > w-l.clockW-2*l.margin {
		caption = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(caption,
			"PAN ", "P"), "TILT ", "T"), "ZOOM ", "Z"), "MOTION", "M")
	}
	c.text(l.margin, h-l.margin-th, caption, l.scale)
	return c.yuv420p()
}

// yuv420p converts the canvas (even width and height).
func (c *canvas) yuv420p() []byte {
	w, h := c.w, c.h
	out := make([]byte, w*h+2*(w/2)*(h/2))
	y8 := func(v float64) byte { return byte(min(max(math.Round(v), 0), 255)) }
	px := func(i int) (r, g, b float64) {
		return float64(c.px[3*i]) / 255, float64(c.px[3*i+1]) / 255, float64(c.px[3*i+2]) / 255
	}
	for i := range w * h {
		r, g, b := px(i)
		out[i] = y8(16 + 219*(0.299*r+0.587*g+0.114*b))
	}
	cb := out[w*h:]
	cr := cb[(w/2)*(h/2):]
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			var r, g, b float64
			for _, i := range [4]int{y*w + x, y*w + x + 1, (y+1)*w + x, (y+1)*w + x + 1} {
				pr, pg, pb := px(i)
				r, g, b = r+pr/4, g+pg/4, b+pb/4
			}
			i := (y/2)*(w/2) + x/2
			cb[i] = y8(128 + 224*(-0.168736*r-0.331264*g+0.5*b))
			cr[i] = y8(128 + 224*(0.5*r-0.418688*g-0.081312*b))
		}
	}
	return out
}

// font is a 5x7 pixel font of the characters the pictures use.
var font = map[rune][7]string{
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
}

package jobs

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// masterName is the master playlist's name, in the HLS folder; each
// rung's playlist is <name>/index.m3u8 beside it.
const masterName = "index.m3u8"

// writeMaster writes the master playlist listing the rungs, lowest first,
// with their measured bandwidth: BANDWIDTH is the peak segment bitrate,
// AVERAGE-BANDWIDTH the whole rendition's (RFC 8216 4.3.4.2), read from
// the rung's playlist and the sizes of its segments (audio included).
func writeMaster(dir string, ladder []rung) error {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, r := range ladder {
		peak, avg, err := bandwidth(filepath.Join(dir, r.name, masterName))
		if err != nil {
			return fmt.Errorf("rendition %s: %w", r.name, err)
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d\n%s/%s\n",
			peak, avg, r.width, r.height, r.name, masterName)
	}
	return os.WriteFile(filepath.Join(dir, masterName), []byte(b.String()), 0o644)
}

// bandwidth measures a media playlist's segments: the peak and average
// bitrates, bits/s rounded up.
func bandwidth(playlist string) (peak, avg int64, err error) {
	f, err := os.Open(playlist)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var (
		dur, total float64 // seconds
		bytes      int64
		segments   int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			if dur, err = strconv.ParseFloat(v, 64); err != nil {
				return 0, 0, fmt.Errorf("%s: %q: %w", filepath.Base(playlist), line, err)
			}
		case line != "" && !strings.HasPrefix(line, "#"):
			fi, err := os.Stat(filepath.Join(filepath.Dir(playlist), filepath.FromSlash(line)))
			if err != nil {
				return 0, 0, fmt.Errorf("segment: %w", err)
			}
			if dur > 0 {
				peak = max(peak, int64(math.Ceil(float64(fi.Size())*8/dur)))
			}
			total += dur
			bytes += fi.Size()
			segments++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if segments == 0 || total <= 0 {
		return 0, 0, fmt.Errorf("%s lists no segments", filepath.Base(playlist))
	}
	return peak, int64(math.Ceil(float64(bytes) * 8 / total)), nil
}

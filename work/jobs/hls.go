package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// putTree copies every file under dir into the storage under prefix and
// returns their names relative to dir (slash-separated, sorted) and
// their total size. Media segments go first, then the playlists, the
// master last: a reader that finds a playlist finds what it lists.
func (w *work) putTree(ctx context.Context, dir, prefix string) ([]string, int64, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("listing the output: %w", err)
	}
	rank := func(name string) int {
		switch {
		case name == masterName:
			return 2
		case path.Ext(name) == ".m3u8":
			return 1
		}
		return 0
	}
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	var total int64
	for _, name := range order {
		n, err := w.put(ctx, prefix+name, filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, 0, err
		}
		total += n
	}
	slices.Sort(files)
	return files, total, nil
}

package jobs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// publishEvery spaces the publisher's passes over ffmpeg's output while it
// runs: a segment is up at most this long after ffmpeg finished it.
const publishEvery = time.Second

// startTag makes players start an EVENT playlist (one that still grows)
// at its beginning rather than near its end, as they would a live one: a
// recorded range is watched from its start.
const startTag = "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES"

// publisher copies an HLS ladder into the storage while ffmpeg writes it,
// so that it plays before the encode ends. ffmpeg writes each rung's
// playlist as an EVENT playlist, replaced whole (through a temporary file)
// after each segment it finishes: what a playlist lists is complete. A
// pass uploads, per rung, the listed segments not up yet, then the
// playlist; once every rung has one, the master; the first pass that
// publishes the master reports the partial result (Job.Partial), which
// makes the VOD's URL work.
type publisher struct {
	w      *work
	dir    string // the local HLS folder
	ladder []rung
	// clock is the recorded wall-clock time the output starts at (zero:
	// not a recording): the playlists' EXT-X-PROGRAM-DATE-TIME, which
	// players place the picture on the wall clock by.
	clock time.Time

	mu        sync.Mutex        // one pass at a time
	up        map[string][]byte // uploaded file (relative to dir) → its content when a playlist, else nil
	bytes     int64             // uploaded, segments and the current playlists
	announced bool
}

func newPublisher(w *work, dir string, ladder []rung) *publisher {
	return &publisher{w: w, dir: dir, ladder: ladder, up: map[string][]byte{}}
}

// step starts publishing another ladder (hlsInSteps: the rungs begun so
// far); the master is announced again once they all have a segment.
func (p *publisher) step(ladder []rung) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ladder, p.announced = ladder, false
}

// during runs encode (ffmpeg) while publishing what it writes.
func (p *publisher) during(ctx context.Context, encode func() (time.Duration, error)) (time.Duration, error) {
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(pctx)
	}()
	d, err := encode()
	stop()
	<-done
	return d, err
}

// run makes passes until ctx ends (ffmpeg is done); a pass that fails is
// left to the next one or to finish.
func (p *publisher) run(ctx context.Context) {
	t := time.NewTicker(publishEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = p.pass(ctx, false)
		}
	}
}

// finish publishes what ffmpeg left (the playlists end with ENDLIST now)
// and the final master, and returns the result.
func (p *publisher) finish(ctx context.Context) (*pb.TaskResult, error) {
	return p.pass(ctx, true)
}

// pass uploads what is new; final: everything must be there, and the
// master is rewritten with the whole renditions' bandwidth.
func (p *publisher) pass(ctx context.Context, final bool) (*pb.TaskResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ready := 0
	for _, r := range p.ladder {
		n, err := p.rung(ctx, r.name)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			ready++
		}
	}
	if ready < len(p.ladder) {
		if final {
			return nil, fmt.Errorf("transcode: %d of %d renditions have no segment", len(p.ladder)-ready, len(p.ladder))
		}
		return nil, nil
	}
	if final || !p.announced {
		if err := writeMaster(p.dir, p.ladder); err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(p.dir, masterName))
		if err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
		if err := p.uploadPlaylist(ctx, masterName, b); err != nil {
			return nil, err
		}
	}
	res := p.result()
	if !final && !p.announced && p.w.job.Partial != nil {
		p.w.job.Partial(res)
	}
	p.announced = true
	return res, nil
}

// rung uploads one rendition's new segments, then its playlist if it
// changed, and returns how many segments it lists.
func (p *publisher) rung(ctx context.Context, name string) (int, error) {
	list := path.Join(name, masterName)
	b, err := os.ReadFile(filepath.Join(p.dir, filepath.FromSlash(list)))
	if os.IsNotExist(err) {
		return 0, nil // no segment finished yet
	}
	if err != nil {
		return 0, fmt.Errorf("transcode: %w", err)
	}
	segs := mediaURIs(b)
	for _, s := range segs {
		if _, ok := p.up[path.Join(name, s)]; ok {
			continue
		}
		if err := p.upload(ctx, path.Join(name, s)); err != nil {
			return 0, err
		}
	}
	if len(segs) > 0 {
		if err := p.uploadPlaylist(ctx, list, withStart(b, p.clock)); err != nil {
			return 0, err
		}
	}
	return len(segs), nil
}

// upload copies a segment of the output as it is.
func (p *publisher) upload(ctx context.Context, rel string) error {
	n, err := p.w.put(ctx, p.w.key("hls/"+rel), filepath.Join(p.dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	p.up[rel] = nil
	p.bytes += n
	return nil
}

// uploadPlaylist uploads a playlist again each pass it changed.
func (p *publisher) uploadPlaylist(ctx context.Context, rel string, b []byte) error {
	old, ok := p.up[rel]
	if ok && bytes.Equal(old, b) {
		return nil
	}
	tmp := filepath.Join(p.w.dir, "playlist.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	if _, err := p.w.put(ctx, p.w.key("hls/"+rel), tmp); err != nil {
		return err
	}
	p.bytes += int64(len(b) - len(old))
	p.up[rel] = b
	return nil
}

// result is what is up: the master's key and every file, sorted.
func (p *publisher) result() *pb.TaskResult {
	files := make([]string, 0, len(p.up))
	for f := range p.up {
		files = append(files, f)
	}
	slices.Sort(files)
	return &pb.TaskResult{Key: p.w.key("hls/" + masterName), Bytes: p.bytes,
		ContentType: "application/vnd.apple.mpegurl", Files: files}
}

// mediaURIs are the URI lines of a media playlist.
func mediaURIs(playlist []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(playlist))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	return out
}

// withStart adds startTag after the header of a playlist that has none
// and, given a clock, the program date-time of its first segment (players
// count the next ones on from it).
func withStart(playlist []byte, clock time.Time) []byte {
	if bytes.Contains(playlist, []byte("#EXT-X-START:")) {
		return playlist
	}
	head, rest, ok := bytes.Cut(playlist, []byte("\n"))
	if !ok {
		return playlist
	}
	out := append(bytes.Clone(head), '\n')
	out = append(out, startTag+"\n"...)
	if i := bytes.Index(rest, []byte("#EXTINF:")); i >= 0 && !clock.IsZero() && !bytes.Contains(rest, []byte("#EXT-X-PROGRAM-DATE-TIME:")) {
		out = append(out, rest[:i]...)
		out = append(out, "#EXT-X-PROGRAM-DATE-TIME:"+clock.UTC().Format("2006-01-02T15:04:05.000Z")+"\n"...)
		rest = rest[i:]
	}
	return append(out, rest...)
}

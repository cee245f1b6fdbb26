package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// uploaded copies the task's upload (a VOD source) into a scratch file and
// probes it: its whole duration is the range; it has no wall clock.
func (w *work) uploaded(ctx context.Context) (*source, error) {
	if w.env.Upload == nil {
		return nil, errors.New("no upload store to read the source from")
	}
	r, err := w.env.Upload(ctx, w.spec.Source)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Permanent(fmt.Errorf("upload %s: %w", w.spec.Source, err))
	}
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", w.spec.Source, err)
	}
	path := filepath.Join(w.dir, "upload")
	err = writeFile(ctx, path, r)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("copying the upload: %w", err)
	}
	s := &source{path: path}
	if err := w.probe(ctx, s); err != nil {
		return nil, Permanent(fmt.Errorf("the upload is not a video ffprobe reads: %w", err))
	}
	return s, nil
}

// probe reads a file's duration, picture size and audio with ffprobe.
func (w *work) probe(ctx context.Context, s *source) error {
	ffprobe := w.env.FFprobe
	if ffprobe == "" {
		ffprobe = "ffprobe"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "stream=codec_type,width,height:format=duration",
		"-of", "json", s.path).Output()
	if err != nil {
		return err
	}
	var p struct {
		Streams []struct {
			Type   string `json:"codec_type"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return err
	}
	video := false
	for _, st := range p.Streams {
		switch st.Type {
		case "video":
			if !video {
				s.width, s.height, video = st.Width, st.Height, true
			}
		case "audio":
			s.audio = true
		}
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(p.Format.Duration), 64)
	if !video || err != nil || secs <= 0 {
		return errors.New("no video stream with a duration")
	}
	s.dur = time.Duration(secs * float64(time.Second))
	return nil
}

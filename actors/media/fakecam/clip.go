package fakecam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// ErrNoFFmpeg is returned by Start when the clip is not cached yet and no
// ffmpeg binary is in PATH to encode it.
var ErrNoFFmpeg = errors.New("fakecam: ffmpeg not found in PATH; install ffmpeg (Debian: apt-get install ffmpeg; `make deps` does it)")

// clipSeconds is the length of the generated loop.
const clipSeconds = 10

// clipVersion changes the cache file name whenever the encoding or parsing
// changes, so stale cached clips are never reused.
const clipVersion = 1

type clipKey struct {
	codec                            string // CodecH264 or CodecH265
	width, height, fps, bitrate, gop int
}

// fileName ends in the codec (".h264", ".h265"): H264 clips keep the
// names they had before H265 came.
func (k clipKey) fileName() string {
	return fmt.Sprintf("argus-fakecam-v%d-%dx%d-%dfps-%dbps-g%d%s",
		clipVersion, k.width, k.height, k.fps, k.bitrate, k.gop, k.ext())
}

// ext is the clip files' extension: the codec, H264 when unset.
func (k clipKey) ext() string {
	if k.codec == CodecH265 {
		return "." + CodecH265
	}
	return "." + CodecH264
}

// accessUnit is one frame: its NALUs without start codes. IDR access units
// carry the parameter sets (H265: VPS, SPS, PPS; H264: SPS, PPS) in front.
type accessUnit struct {
	nalus [][]byte
	idr   bool
}

// clip is a parsed H264 or H265 elementary stream that starts with an IDR
// and can be looped (it ends before an IDR, the next loop starts with
// one). vps is H265's only.
type clip struct {
	vps, sps, pps []byte
	width         int
	height        int
	aus           []accessUnit
}

// clips caches parsed clips in the process, so many cameras share one
// encode and one copy in memory; the file cache in os.TempDir() shares the
// encode between processes (test binaries).
var clips onceMap[clipKey, *clip]

// loadClip returns the clip for k, encoding it at most once per process
// (and at most once per machine while the cached file stays in TempDir).
func loadClip(ctx context.Context, k clipKey) (*clip, error) {
	return clips.get(ctx, k, func(ctx context.Context) (*clip, error) { return buildClip(ctx, k) })
}

func buildClip(ctx context.Context, k clipKey) (*clip, error) {
	c, _, err := cachedClip(k.fileName(), k.codec, k.width, k.height, func() ([]byte, error) { return encodeClip(ctx, k) })
	return c, err
}

// cachedClip reads the clip cached in os.TempDir() under name or, when it
// is missing or unusable, encodes it and caches it there. encoded says
// which.
func cachedClip(name, codec string, width, height int, encode func() ([]byte, error)) (c *clip, encoded bool, err error) {
	_, encoded, err = cachedFile(name, encode, func(buf []byte) error {
		p, err := parseVideo(codec, buf)
		if err != nil {
			return fmt.Errorf("fakecam: parsing ffmpeg output: %w", err)
		}
		if p.width != width || p.height != height {
			return fmt.Errorf("fakecam: ffmpeg produced %dx%d, want %dx%d", p.width, p.height, width, height)
		}
		c = p
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return c, encoded, nil
}

// parseVideo parses an Annex-B stream of codec into a clip.
func parseVideo(codec string, buf []byte) (*clip, error) {
	if codec == CodecH265 {
		return parseClipH265(buf)
	}
	return parseClip(buf)
}

// encodeClip runs ffmpeg: testsrc2 (moving pattern and counter) encoded
// with encoderArgs.
func encodeClip(ctx context.Context, k clipKey) ([]byte, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", k.width, k.height, k.fps),
		"-t", strconv.Itoa(clipSeconds),
	}
	return runFFmpeg(ctx, bin, append(args, encoderArgs(k)...), nil)
}

// encoderArgs are the output options of every clip of k, the base one
// and the views' (the same options make the same parameter sets): x264
// baseline (or x265, see encoderArgsH265), no B-frames, fixed GOP,
// SPS/PPS before every IDR, Annex-B on stdout.
func encoderArgs(k clipKey) []string {
	if k.codec == CodecH265 {
		return encoderArgsH265(k)
	}
	br := strconv.Itoa(k.bitrate)
	gop := strconv.Itoa(k.gop)
	return []string{
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-b:v", br, "-maxrate", br, "-bufsize", br,
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0",
		"-x264-params", "repeat-headers=1",
		"-f", "h264", "-",
	}
}

// runFFmpeg runs ffmpeg with args (stdin from stdin when not nil) and
// returns its stdout.
func runFFmpeg(ctx context.Context, bin string, args []string, stdin []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, stderr bytes.Buffer
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fakecam: encoding clip: %w", ctx.Err())
		}
		return nil, fmt.Errorf("fakecam: ffmpeg: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Bytes(), nil
}

// AccessUnits parses an H264 Annex-B stream into access units as the relay
// delivers them (NALUs without start codes; AUDs, SEIs and filler dropped;
// SPS and PPS in front of every IDR): a real source for tests that feed
// recorders or detectors.
func AccessUnits(annexB []byte) ([][][]byte, error) {
	c, err := parseClip(annexB)
	if err != nil {
		return nil, err
	}
	out := make([][][]byte, len(c.aus))
	for i, au := range c.aus {
		out[i] = au.nalus
	}
	return out, nil
}

// splitAnnexB returns the NALUs of an Annex-B byte stream (any length; the
// mediacommon AnnexB type is limited to one access unit's worth of NALUs).
func splitAnnexB(buf []byte) ([][]byte, error) {
	start := []byte{0, 0, 1}
	i := bytes.Index(buf, start)
	if i < 0 {
		return nil, h264.ErrAnnexBNoInitialDelimiter
	}
	pos := i + 3
	var nalus [][]byte
	for pos < len(buf) {
		j := bytes.Index(buf[pos:], start)
		end := len(buf)
		next := len(buf)
		if j >= 0 {
			end = pos + j
			next = pos + j + 3
		}
		// trailing zero bytes belong to the next start code (00 00 00 01)
		// or are trailing_zero_8bits.
		for end > pos && buf[end-1] == 0 {
			end--
		}
		if end > pos {
			nalus = append(nalus, buf[pos:end])
		}
		pos = next
	}
	if len(nalus) == 0 {
		return nil, h264.ErrAnnexBNoNALUs
	}
	return nalus, nil
}

func isVCL(t h264.NALUType) bool {
	return t >= h264.NALUTypeNonIDR && t <= h264.NALUTypeIDR
}

// firstSliceOfPicture reports whether a slice NALU starts a picture:
// first_mb_in_slice (the first ue(v) of the slice header) is 0, coded as a
// single 1 bit.
func firstSliceOfPicture(nalu []byte) bool {
	return len(nalu) >= 2 && nalu[1]&0x80 != 0
}

// parseClip groups the NALUs into access units (ITU-T H.264 7.4.1.2.3: an
// AUD, SPS, PPS, SEI or a slice with first_mb_in_slice = 0 after a slice
// starts a new one), drops AUDs, SEIs and filler, and puts SPS+PPS in front of
// every IDR access unit.
func parseClip(buf []byte) (*clip, error) {
	nalus, err := splitAnnexB(buf)
	if err != nil {
		return nil, err
	}
	c := &clip{}
	var cur [][]byte
	curHasVCL := false
	flush := func() {
		if curHasVCL {
			c.aus = append(c.aus, accessUnit{nalus: cur})
		}
		cur, curHasVCL = nil, false
	}
	for _, n := range nalus {
		t := h264.NALUType(n[0] & 0x1f)
		switch {
		case t == h264.NALUTypeAccessUnitDelimiter,
			t == h264.NALUTypeSPS, t == h264.NALUTypePPS, t == h264.NALUTypeSEI,
			t >= h264.NALUTypePrefix && t <= h264.NALUTypeReserved18:
			if curHasVCL {
				flush()
			}
		case isVCL(t):
			if curHasVCL && firstSliceOfPicture(n) {
				flush()
			}
		}
		switch t {
		case h264.NALUTypeSPS:
			if c.sps == nil {
				c.sps = n
			}
		case h264.NALUTypePPS:
			if c.pps == nil {
				c.pps = n
			}
		}
		switch {
		case t == h264.NALUTypeAccessUnitDelimiter, t == h264.NALUTypeSEI,
			t == h264.NALUTypeFillerData, t == h264.NALUTypeEndOfSequence, t == h264.NALUTypeEndOfStream:
			// not sent
		case isVCL(t):
			cur = append(cur, n)
			curHasVCL = true
		default:
			cur = append(cur, n)
		}
	}
	flush()

	if c.sps == nil || c.pps == nil {
		return nil, errors.New("no SPS/PPS in stream")
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c.sps); err != nil {
		return nil, fmt.Errorf("SPS: %w", err)
	}
	c.width, c.height = sps.Width(), sps.Height()
	if len(c.aus) == 0 {
		return nil, errors.New("no access units")
	}
	for i := range c.aus {
		au := &c.aus[i]
		au.idr = h264.IsRandomAccess(au.nalus)
		if !au.idr {
			// parameter sets only travel with IDRs
			keep := au.nalus[:0:0]
			for _, n := range au.nalus {
				if t := h264.NALUType(n[0] & 0x1f); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
					keep = append(keep, n)
				}
			}
			au.nalus = keep
			continue
		}
		var vcl [][]byte
		for _, n := range au.nalus {
			if t := h264.NALUType(n[0] & 0x1f); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
				vcl = append(vcl, n)
			}
		}
		au.nalus = append([][]byte{c.sps, c.pps}, vcl...)
	}
	if !c.aus[0].idr {
		return nil, errors.New("clip does not start with an IDR")
	}
	return c, nil
}

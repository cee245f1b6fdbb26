package relay

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/argus-vms/argus/actors/media/fakecam"
)

// decodeKeyframe turns an Annex-B keyframe into a JPEG with ffmpeg, as the
// snapshot package does, and returns the JPEG's size.
func decodeKeyframe(t *testing.T, annexB []byte) image.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "h264", "-i", "pipe:0", "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", "pipe:1")
	var out, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(annexB), &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	cfg, err := jpeg.DecodeConfig(&out)
	if err != nil {
		t.Fatalf("ffmpeg's JPEG: %v", err)
	}
	return cfg
}

// naluCounts counts the NAL units of an Annex-B access unit by type.
func naluCounts(t *testing.T, annexB []byte) map[h264.NALUType]int {
	t.Helper()
	var au h264.AnnexB
	if err := au.Unmarshal(annexB); err != nil {
		t.Fatalf("not Annex-B: %v", err)
	}
	n := map[h264.NALUType]int{}
	for _, nalu := range au {
		n[h264.NALUType(nalu[0]&0x1f)]++
	}
	return n
}

func wantOneOfEach(t *testing.T, annexB []byte) {
	t.Helper()
	n := naluCounts(t, annexB)
	if n[h264.NALUTypeSPS] != 1 || n[h264.NALUTypePPS] != 1 || n[h264.NALUTypeIDR] < 1 || n[h264.NALUTypeNonIDR] != 0 {
		t.Fatalf("NAL units by type %v: want one SPS, one PPS, IDR slices only", n)
	}
}

func TestKeyframeFromCamera(t *testing.T) {
	t.Parallel()
	n := startNode(t, fakecam.Options{Width: 480, Height: 272})
	st := n.ready(Key{Device: "cam1", Channel: 1})
	k, ok := st.Keyframe()
	kf, at := k.AnnexB, k.At
	if !ok {
		t.Fatal("ready stream has no keyframe")
	}
	if age := time.Since(at); age < 0 || age > 5*time.Second {
		t.Errorf("keyframe arrived %v ago", age)
	}
	// fakecam repeats SPS and PPS in band: they must not be doubled
	wantOneOfEach(t, kf)
	if cfg := decodeKeyframe(t, kf); cfg.Width != 480 || cfg.Height != 272 {
		t.Errorf("JPEG %dx%d, want the camera's 480x272", cfg.Width, cfg.Height)
	}

	// a copy: scribbling on it leaves the stream's IDR alone
	clear(kf)
	k2, ok := st.Keyframe()
	kf2, at2 := k2.AnnexB, k2.At
	if !ok || at2.Before(at) {
		t.Fatalf("second Keyframe: ok %v, at %v after %v", ok, at2, at)
	}
	wantOneOfEach(t, kf2)

	st.Close()
	if _, ok := st.Keyframe(); ok {
		t.Error("closed stream still has a keyframe")
	}
}

// encodeTestKeyframe is one IDR access unit of testsrc2 by libx264, split
// into its NAL units.
func encodeTestKeyframe(t *testing.T, w, h int) (sps, pps []byte, rest [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d", w, h), "-frames:v", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	var au h264.AnnexB
	if err := au.Unmarshal(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, nalu := range au {
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = nalu
		case h264.NALUTypePPS:
			pps = nalu
		default:
			rest = append(rest, nalu)
		}
	}
	if sps == nil || pps == nil || len(rest) == 0 {
		t.Fatalf("ffmpeg's keyframe lacks SPS, PPS or slices: %d NAL units", len(au))
	}
	return sps, pps, rest
}

// feedAU sends one access unit to st over RTP, as a camera pull does.
func feedAU(t *testing.T, st *Stream, medi *description.Media, au [][]byte, ts uint32) {
	t.Helper()
	enc, err := medi.Formats[0].(*format.H264).CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := enc.Encode(au)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		p.Timestamp = ts
		st.WritePacket(medi, p)
	}
}

// TestKeyframeParams checks where the parameter sets come from: the SDP
// only, the access unit only, or neither (no keyframe then).
func TestKeyframeParams(t *testing.T) {
	t.Parallel()
	sps, pps, slices := encodeTestKeyframe(t, 320, 180)
	inBand := append([][]byte{sps, pps}, slices...)
	for _, tc := range []struct {
		name           string
		sdpSPS, sdpPPS []byte
		au             [][]byte
		want           bool
	}{
		{"SDP only", sps, pps, slices, true},
		{"in band only", nil, nil, inBand, true},
		{"both", sps, pps, inBand, true},
		{"neither", nil, nil, slices, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := NewStream(Key{Device: "cam", Channel: 1})
			defer st.Close()
			if _, ok := st.Keyframe(); ok {
				t.Fatal("keyframe before any source")
			}
			medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{
				PayloadTyp: 96, PacketizationMode: 1, SPS: tc.sdpSPS, PPS: tc.sdpPPS,
			}}}
			st.SetSource(&description.Session{Medias: []*description.Media{medi}})
			before := time.Now()
			feedAU(t, st, medi, tc.au, 1000)
			k, ok := st.Keyframe()
			kf, at := k.AnnexB, k.At
			if ok != tc.want {
				t.Fatalf("ok %v, want %v", ok, tc.want)
			}
			if !ok {
				return
			}
			if at.Before(before) || at.After(time.Now()) {
				t.Errorf("at %v, not while feeding", at)
			}
			wantOneOfEach(t, kf)
			if cfg := decodeKeyframe(t, kf); cfg.Width != 320 || cfg.Height != 180 {
				t.Errorf("JPEG %dx%d, want 320x180", cfg.Width, cfg.Height)
			}

			// the keyframe outlives the source
			st.SetSource(nil)
			if k2, ok := st.Keyframe(); !ok || !k2.At.Equal(at) {
				t.Errorf("after the source went: ok %v at %v", ok, k2.At)
			}
		})
	}
}

package testenv

import (
	"bytes"
	"os/exec"
	"strconv"
	"testing"

	"github.com/argus-vms/argus/actors/media/fakecam"
)

// MovingBox is a lavfi graph: SMPTE bars with temporal noise (a camera's
// grain) and a white 64×64 box at x(t) (an ffmpeg expression of t, in
// pixels of the 640×360 picture), for motion detection tests.
func MovingBox(x string) string {
	return "smptebars=s=640x360:r=25,noise=alls=4:allf=t[bg];color=white:s=64x64:r=25[box];" +
		"[bg][box]overlay=x='" + x + "':y=140:shortest=1"
}

// EncodeH264 encodes seconds of a lavfi graph as a camera would: x264 (x264
// options, default ultrafast), no B-frames, an IDR every second, raw Annex-B.
func EncodeH264(t testing.TB, graph string, seconds int, x264 ...string) []byte {
	t.Helper()
	NeedFFmpeg(t, "an H.264 test clip")
	if len(x264) == 0 {
		x264 = []string{"-preset", "ultrafast"}
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", graph, "-t", strconv.Itoa(seconds), "-c:v", "libx264"}
	args = append(args, x264...)
	args = append(args, "-tune", "zerolatency", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264", "-")
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	return out
}

// AccessUnits splits an Annex-B stream into access units as the relay
// delivers them (fakecam.AccessUnits).
func AccessUnits(t testing.TB, stream []byte) [][][]byte {
	t.Helper()
	aus, err := fakecam.AccessUnits(stream)
	if err != nil {
		t.Fatalf("H264 clip: %v", err)
	}
	return aus
}

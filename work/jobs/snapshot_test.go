package jobs

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// A recorded snapshot is the JPEG of the frame at the instant, scaled to
// the requested width.
func TestSnapshotRecorded(t *testing.T) {
	env, out := testEnv(t)
	s := spec(task.TypeSnapshot, 5520*time.Millisecond, 0, &pb.TaskParams{Width: 160})
	res, path := run(t, env, out, s)
	if res.Key != "tasks/t1/snapshot.jpg" || res.ContentType != "image/jpeg" {
		t.Errorf("result %v", res)
	}
	isJPEG(t, path, 160, 90)

	// It is the frame at 5.52 s into the first segment (a frame that is
	// not a keyframe), not one a few frames off.
	seg, err := fx.st.Path(fx.segs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	got := grayFrame(t, "", "-i", path)
	diff := func(at string) float64 {
		want := grayFrame(t, "scale=160:-2", "-ss", at, "-i", seg)
		var sum int
		for i := range got {
			sum += max(int(got[i])-int(want[i]), int(want[i])-int(got[i]))
		}
		return float64(sum) / float64(len(got))
	}
	same, before, after := diff("5.52"), diff("5.40"), diff("5.64")
	t.Logf("mean pixel difference: %.2f at the instant, %.2f and %.2f three frames off", same, before, after)
	if same > 2 || before < 2*same || after < 2*same {
		t.Errorf("the snapshot is not the frame at the instant: differences %.2f, %.2f and %.2f", same, before, after)
	}
}

// A live snapshot is grabbed from the camera's RTSP stream.
func TestSnapshotLive(t *testing.T) {
	env, out := testEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cam, err := fakecam.Start(ctx, fakecam.Options{Width: 320, Height: 180})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	s := &pb.TaskSpec{Type: task.TypeSnapshot, Device: "cam1", Channel: 1, Params: &pb.TaskParams{}}
	res, err := Run(ctx, env, Job{ID: "t1", Spec: s, LiveURL: cam.URL("cam1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := out.Path(res.Key)
	isJPEG(t, path, 320, 180)

	// a camera that does not answer: worth another attempt
	res, err = Run(ctx, env, Job{ID: "t2", Spec: s, LiveURL: "rtsp://127.0.0.1:1/none"}, nil)
	if err == nil || IsPermanent(err) {
		t.Errorf("unreachable camera: %v, %v", res, err)
	}
}

func isJPEG(t *testing.T, path string, width, height int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) {
		t.Errorf("%s is not a JPEG", path)
	}
	p := ffprobe(t, path)
	if w, h := oneVideo(t, p, "mjpeg"); w != width || h != height {
		t.Errorf("snapshot %dx%d, want %dx%d", w, h, width, height)
	}
}

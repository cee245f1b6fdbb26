// Package jobs runs the media work of one task with ffmpeg: a snapshot (live
// or recorded), a clip, a timelapse or an HLS transcode of a recorded range.
//
// A recorded range is first joined into one MP4 scratch file by
// actors/media/playback (see input.go); ffmpeg reads it, writes its output
// into a scratch directory, and the output is then copied into the
// recording storage under tasks/<task id>/ (store.go). Everything scratch
// is removed when Run returns.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/argus-vms/argus/actors/media/playback"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// Env is what a worker slot runs jobs with.
type Env struct {
	// Segments lists a channel's recorded segments overlapping [from, to), in order.
	Segments func(ctx context.Context, device string, channel int, from, to time.Time) ([]playback.Segment, error)
	Open     playback.Opener // reads segments (the recording storage's Open)
	Storage  storage.Storage // results are written here, under tasks/<task id>/
	// Upload reads an uploaded source (a VOD transcode); a missing one is
	// an error wrapping fs.ErrNotExist.
	Upload  func(ctx context.Context, id string) (io.ReadCloser, error)
	FFmpeg  string // default "ffmpeg"
	FFprobe string // default "ffprobe" (probes uploads)
	TempDir string // scratch files (default os.TempDir()); everything created is removed when Run returns
}

// Job is one attempt of a task.
type Job struct {
	ID      string
	Spec    *pb.TaskSpec
	LiveURL string // a live snapshot's or transcode's source (rtsp://…); used when Spec.FromUnixMs == 0
	// PublishURL is where a live transcode publishes its rendition (rtsp://…).
	PublishURL string
	// Partial, when set, receives the result so far of a job that
	// publishes in steps (an upload's HLS ladder, lowest rendition first:
	// it plays before the rest is done).
	Partial func(*pb.TaskResult)
}

// work is one Run: what the task types share.
type work struct {
	env      Env
	job      Job
	spec     *pb.TaskSpec
	dir      string // the scratch directory, removed by Run
	progress func(float64)
}

// Run does the job and returns its result (Key = the main output's storage key; for HLS the master
// playlist, with Files = every written file's key relative to the master's folder). progress is called
// with 0..1 as ffmpeg goes (at most a few times per second). When ctx ends, the ffmpeg process is
// killed at once and Run returns ctx's error.
func Run(ctx context.Context, env Env, job Job, progress func(float64)) (*pb.TaskResult, error) {
	if job.Spec == nil {
		return nil, Permanent(errors.New("jobs: the task has no spec"))
	}
	do, ok := runners[job.Spec.Type]
	if !ok {
		return nil, Permanent(fmt.Errorf("jobs: unknown task type %q", job.Spec.Type))
	}
	// The job's keys are built from its id: a task whose id the storage
	// refuses fails the same way on every attempt.
	if err := storage.ValidKey(keyPrefix(job.ID) + "x"); err != nil {
		return nil, Permanent(fmt.Errorf("jobs: task id %q cannot name storage keys: %w", job.ID, err))
	}
	if env.Storage == nil {
		return nil, errors.New("jobs: no storage to write results to")
	}
	if env.FFmpeg == "" {
		env.FFmpeg = "ffmpeg"
	}
	if progress == nil {
		progress = func(float64) {}
	}
	dir, err := os.MkdirTemp(env.TempDir, "argus-job-")
	if err != nil {
		return nil, fmt.Errorf("jobs: scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)

	w := &work{env: env, job: job, spec: job.Spec, dir: dir, progress: progress}
	res, err := do(w, ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // whatever failed failed because of it
		}
		return nil, fmt.Errorf("%s %s: %w", job.Spec.Type, job.ID, err)
	}
	return res, nil
}

// runners are the task types' jobs.
var runners = map[string]func(*work, context.Context) (*pb.TaskResult, error){
	task.TypeSnapshot:  (*work).snapshot,
	task.TypeClip:      (*work).clip,
	task.TypeTimelapse: (*work).timelapse,
	task.TypeTranscode: (*work).transcode,

	task.TypeLiveTranscode: (*work).liveTranscode,
}

// keyPrefix is the storage folder of a task's results.
func keyPrefix(id string) string { return "tasks/" + id + "/" }

// key is a result's storage key.
func (w *work) key(name string) string { return keyPrefix(w.job.ID) + name }

// span is the task's recorded range [from, to).
func (w *work) span() (from, to time.Time, err error) {
	if w.spec.FromUnixMs <= 0 || w.spec.ToUnixMs <= w.spec.FromUnixMs {
		return time.Time{}, time.Time{}, Permanent(fmt.Errorf("bad range %d..%d ms", w.spec.FromUnixMs, w.spec.ToUnixMs))
	}
	return time.UnixMilli(w.spec.FromUnixMs), time.UnixMilli(w.spec.ToUnixMs), nil
}

// permanent marks an error that another attempt would repeat.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks an error another attempt would repeat (nothing recorded in the range, a bad source);
// IsPermanent reports it. Other errors are worth retrying.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanent{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// Package task is the task aggregate: one media job (a snapshot, a clip
// export, a transcode, a timelapse) from its submission to its result, in
// the shard of its id. Workers run it (work/worker); its actor is the one
// authority on its state: a worker's start, progress and result are
// reports the actor decides on, so a duplicate or stale work message, or a
// worker whose lease ran out, never changes a task behind its back.
package task

import (
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// States of a task.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Canceled  = "canceled"
)

// State is a task as its events left it.
type State struct {
	ID           string
	Spec         *pb.TaskSpec
	CallbackURL  string
	SealedSecret []byte
	By           string
	Status       string // "" before task.submitted
	Progress     float64
	Worker       string
	Attempt      uint32 // the attempt running (or last run)
	Attempts     uint32 // attempts started
	CreatedAt    int64
	StartedAt    int64
	FinishedAt   int64
	ProgressAt   int64 // time of the last task.progress
	Result       *pb.TaskResult
	Error        string
	DeadLetter   bool
	CreatedSeq   uint64
	Version      uint64
	LastSeq      uint64
}

// AppliedSeq is the log sequence of the last event folded in.
func (s *State) AppliedSeq() uint64 { return s.LastSeq }

// Terminal reports a task that is over (succeeded, failed or canceled).
func (s *State) Terminal() bool {
	return s.Status == Succeeded || s.Status == Failed || s.Status == Canceled
}

// Exists reports a submitted task.
func (s *State) Exists() bool { return s.Status != "" }

// Apply folds one event.
func (s *State) Apply(e events.Event) {
	env := e.Envelope
	s.ID, s.Version, s.LastSeq = env.AggregateId, env.Version, e.Seq
	at := env.TimeUnixMs
	switch p := env.Payload.(type) {
	case *pb.Envelope_TaskSubmitted:
		m := p.TaskSubmitted
		*s = State{ID: env.AggregateId, Spec: m.Spec, CallbackURL: m.CallbackUrl, SealedSecret: m.SealedCallbackSecret, By: m.By,
			Status: Queued, CreatedAt: at, CreatedSeq: e.Seq, Version: env.Version, LastSeq: e.Seq}
	case *pb.Envelope_TaskStarted:
		m := p.TaskStarted
		s.Status, s.Worker, s.Attempt, s.Progress, s.StartedAt, s.ProgressAt, s.Result = Running, m.Worker, m.Attempt, 0, at, at, nil
		s.Attempts++
	case *pb.Envelope_TaskProgress:
		s.Progress, s.ProgressAt = p.TaskProgress.Progress, at
		if p.TaskProgress.Partial != nil {
			s.Result = p.TaskProgress.Partial
		}
	case *pb.Envelope_TaskSucceeded:
		s.Status, s.Progress, s.Result, s.FinishedAt, s.Error = Succeeded, 1, p.TaskSucceeded.Result, at, ""
	case *pb.Envelope_TaskFailed:
		s.Status, s.Error, s.DeadLetter, s.FinishedAt = Failed, p.TaskFailed.Error, p.TaskFailed.DeadLetter, at
	case *pb.Envelope_TaskAttemptFailed:
		s.Status, s.Error, s.Worker, s.Progress = Queued, p.TaskAttemptFailed.Error, "", 0
	case *pb.Envelope_TaskCanceled:
		s.Status, s.FinishedAt = Canceled, at
		if r := p.TaskCanceled.Reason; r != "" {
			s.Error = r
		}
	}
}

// View is how the API shows the task: never its callback secret.
func (s *State) View() *pb.TaskView {
	if !s.Exists() {
		return nil
	}
	v := &pb.TaskView{Id: s.ID, Type: s.Spec.GetType(), State: s.Status, Progress: s.Progress, Worker: s.Worker, Attempts: s.Attempts,
		CreatedAtUnixMs: s.CreatedAt, StartedAtUnixMs: s.StartedAt, FinishedAtUnixMs: s.FinishedAt, Error: s.Error,
		CallbackUrl: s.CallbackURL, CreatedBy: s.By, Version: s.Version, DeadLetter: s.DeadLetter}
	if s.Spec != nil {
		v.Spec = proto.Clone(s.Spec).(*pb.TaskSpec)
	}
	if s.Result != nil {
		v.Result = proto.Clone(s.Result).(*pb.TaskResult)
	}
	return v
}

// Work is the work-queue message of the task's next attempt.
func (s *State) Work() *pb.TaskWork {
	return &pb.TaskWork{Id: s.ID, Spec: proto.Clone(s.Spec).(*pb.TaskSpec)}
}

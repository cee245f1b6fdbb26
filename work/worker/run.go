package worker

import (
	"context"
	"errors"
	"time"

	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/work/jobs"
	"github.com/argus-vms/argus/work/queue"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// reportWait bounds how long a slot keeps trying to report an outcome
// before it leaves the message to be redelivered.
const reportWait = time.Minute

// run is one attempt: start (if the task's actor agrees), the job with its
// lease renewed, and the outcome reported before the message is acked.
func (w *Worker) run(ctx context.Context, msg jetstream.Msg, online bool) {
	work := &pb.TaskWork{}
	meta, err := msg.Metadata()
	if err != nil || proto.Unmarshal(msg.Data(), work) != nil || work.Spec == nil {
		w.o.Log.Warn("worker: unreadable work message dropped")
		_ = msg.Term()
		return
	}
	attemptNo := uint32(meta.NumDelivered)
	report := func(ctx context.Context, kind pb.TaskReportKind, fill func(*pb.ReportTask)) (*pb.TaskReply, error) {
		r := &pb.ReportTask{Id: work.Id, Worker: w.o.ID, Attempt: attemptNo, Kind: kind}
		if fill != nil {
			fill(r)
		}
		return queue.Report(ctx, w.o.Queues.Conn(), r)
	}
	log := w.o.Log.With("task", work.Id, "attempt", attemptNo)

	sctx, cancelStart := context.WithTimeout(ctx, reportWait)
	reply, err := report(sctx, pb.TaskReportKind_TASK_REPORT_KIND_START, nil)
	cancelStart()
	switch {
	case err != nil:
		log.Warn("worker: no node took the start; leaving the task to another delivery", "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	case reply.Code == pb.ReplyCode_REPLY_CODE_NOT_FOUND:
		log.Warn("worker: work for an unknown task dropped")
		_ = msg.Term()
		return
	case reply.Stop:
		_ = msg.Term() // over, canceled, or a duplicate message of a task running elsewhere
		return
	}

	if (work.Spec.Type == task.TypeSnapshot && work.Spec.FromUnixMs == 0 || work.Spec.Type == task.TypeLiveTranscode) && work.LiveUrl == "" {
		if work.LiveUrl, work.PublishUrl, err = queue.LiveURL(ctx, w.o.Queues.Conn(), work); err != nil {
			log.Warn("worker: live task without a source", "err", err)
		}
	}
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !w.hold(work.Id, online, cancel) {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	defer w.release(work.Id)
	w.register(ctx)
	defer w.register(ctx)

	var progress progressBox
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renew(jctx, msg, cancel, &progress, report)
	}()
	partial := func(r *pb.TaskResult) {
		pctx, cancel := context.WithTimeout(jctx, 10*time.Second)
		defer cancel()
		if _, err := report(pctx, pb.TaskReportKind_TASK_REPORT_KIND_PROGRESS, func(rt *pb.ReportTask) { rt.Progress, rt.Result = progress.get(), r }); err != nil {
			log.Warn("worker: partial result not reported", "err", err)
		}
	}
	result, jerr := jobs.Run(jctx, w.o.Env, jobs.Job{ID: work.Id, Spec: work.Spec, LiveURL: work.LiveUrl, PublishURL: work.PublishUrl, Partial: partial}, progress.set)
	cause := context.Cause(jctx)
	cancel(nil)
	<-renewed

	switch {
	case errors.Is(cause, errCanceled), errors.Is(cause, errSuperseded):
		log.Info("worker: attempt stopped", "why", cause)
		if errors.Is(cause, errCanceled) {
			_ = msg.Term()
		}
		return // superseded: the message is another slot's now
	case ctx.Err() != nil:
		return // the worker stops: redelivered after the lease
	}
	rctx, cancelReport := context.WithTimeout(context.Background(), reportWait)
	defer cancelReport()
	if jerr == nil {
		if _, err := report(rctx, pb.TaskReportKind_TASK_REPORT_KIND_SUCCEEDED, func(r *pb.ReportTask) { r.Result = result }); err != nil {
			log.Warn("worker: success not reported; the task runs again", "err", err)
			return
		}
		_ = msg.Ack()
		return
	}
	retry := !jobs.IsPermanent(jerr)
	log.Warn("worker: attempt failed", "err", jerr, "retry", retry)
	reply, err = report(rctx, pb.TaskReportKind_TASK_REPORT_KIND_FAILED, func(r *pb.ReportTask) { r.Error, r.Retry = jerr.Error(), retry })
	switch {
	case err != nil:
		return
	case reply.GetTask().GetState() == "queued":
		_ = msg.NakWithDelay(time.Duration(attemptNo) * 2 * time.Second)
	default:
		_ = msg.Term()
	}
}

// renew keeps the attempt's lease (in-progress acks) and reports its
// progress; an answer that the attempt no longer holds the task stops it.
func (w *Worker) renew(ctx context.Context, msg jetstream.Msg, stop context.CancelCauseFunc, p *progressBox,
	report func(context.Context, pb.TaskReportKind, func(*pb.ReportTask)) (*pb.TaskReply, error)) {
	every := w.o.Queues.Lease() / 3
	t := time.NewTicker(min(every, 2*time.Second))
	defer t.Stop()
	lastAck := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(lastAck) >= every-time.Second/2 || every <= 2*time.Second {
			_ = msg.InProgress()
			lastAck = time.Now()
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		reply, err := report(rctx, pb.TaskReportKind_TASK_REPORT_KIND_PROGRESS, func(r *pb.ReportTask) { r.Progress = p.get() })
		cancel()
		if err == nil && reply.Stop {
			if reply.GetTask().GetState() == "canceled" {
				stop(errCanceled)
			} else {
				stop(errSuperseded)
			}
			return
		}
	}
}

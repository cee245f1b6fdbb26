package task

import (
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// apply folds a decided event into s, as the actor does.
func apply(t *testing.T, s *State, env *pb.Envelope) {
	t.Helper()
	if env == nil {
		t.Fatal("no event")
	}
	env.AggregateId, env.Version, env.TimeUnixMs = "tk-1", s.Version+1, time.Now().UnixMilli()
	s.Apply(events.Event{Seq: s.LastSeq + 1, Envelope: env})
}

func report(kind pb.TaskReportKind, worker string, attempt uint32) *pb.ReportTask {
	return &pb.ReportTask{Id: "tk-1", Worker: worker, Attempt: attempt, Kind: kind}
}

func submitted(t *testing.T, attempts uint32) *State {
	t.Helper()
	s := &State{}
	from := time.Now().Add(-time.Hour).UnixMilli()
	env, rej := DecideSubmit(s, &pb.SubmitTask{Id: "tk-1", Spec: &pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 1,
		FromUnixMs: from, ToUnixMs: from + 5000, MaxAttempts: attempts}}, false, nil)
	if rej != nil {
		t.Fatal(rej)
	}
	apply(t, s, env)
	return s
}

func TestSubmitChecksFields(t *testing.T) {
	from := time.Now().Add(-time.Hour).UnixMilli()
	for _, c := range []struct {
		spec  *pb.TaskSpec
		field string
	}{
		{&pb.TaskSpec{Type: "render"}, "type"},
		{&pb.TaskSpec{Type: TypeClip, Device: "Cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 1}, "device"},
		{&pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 0, FromUnixMs: from, ToUnixMs: from + 1}, "channel"},
		{&pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from}, "to"},
		{&pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 25*3600*1000}, "to"},
		{&pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 1}, "from"},
		{&pb.TaskSpec{Type: TypeSnapshot, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 1}, "to"},
		{&pb.TaskSpec{Type: TypeTimelapse, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 1, Params: &pb.TaskParams{Speed: 1}}, "params.speed"},
		{&pb.TaskSpec{Type: TypeClip, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 1, Params: &pb.TaskParams{Speed: 4}}, "params.speed"},
		{&pb.TaskSpec{Type: TypeTranscode, Device: "cam", Channel: 1, FromUnixMs: from, ToUnixMs: from + 1, Params: &pb.TaskParams{Renditions: []string{"720p", "720p"}}}, "params.renditions"},
		{&pb.TaskSpec{Type: TypeTranscode, Source: "up-1", Device: "cam"}, "source"},
		{&pb.TaskSpec{Type: TypeClip, Source: "up-1"}, "source"},
		{&pb.TaskSpec{Type: TypeSnapshot, Device: "cam", Channel: 1, Params: &pb.TaskParams{Width: 8}}, "params.width"},
		{&pb.TaskSpec{Type: TypeSnapshot, Device: "cam", Channel: 1, Group: "Bad"}, "group"},
		{&pb.TaskSpec{Type: TypeSnapshot, Device: "cam", Channel: 1, Priority: 10}, "priority"},
	} {
		_, rej := DecideSubmit(&State{}, &pb.SubmitTask{Spec: c.spec}, false, nil)
		if rej == nil || rej.Field != c.field {
			t.Errorf("%+v: %v, want field %s", c.spec, rej, c.field)
		}
	}
	_, rej := DecideSubmit(&State{}, &pb.SubmitTask{Spec: &pb.TaskSpec{Type: TypeSnapshot, Device: "cam", Channel: 1},
		CallbackUrl: "http://127.0.0.1/cb", CallbackSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, false, func(string) []byte { return nil })
	if rej == nil || rej.Field != "callback_url" {
		t.Errorf("a private callback without the flag: %v", rej)
	}
	s := submitted(t, 0)
	if s.Spec.Queue != QueueOffline || s.Spec.Group != DefaultGroup || s.Spec.MaxAttempts != DefaultMaxAttempts || s.Status != Queued {
		t.Errorf("defaults: %+v", s.Spec)
	}
	if _, rej := DecideSubmit(s, &pb.SubmitTask{Spec: &pb.TaskSpec{Type: TypeSnapshot}}, false, nil); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS {
		t.Errorf("submit twice: %v", rej)
	}
}

// TestReports: a start takes a queued task; a repeat of it changes
// nothing; a duplicate message's start and a stale attempt's reports are
// answered "stop"; a redelivery takes the task over; success, retryable
// failure and the dead letter.
func TestReports(t *testing.T) {
	now := time.Now()
	s := submitted(t, 2)
	start := report(pb.TaskReportKind_TASK_REPORT_KIND_START, "wa", 1)
	env, _ := DecideReport(s, start, now, time.Second)
	apply(t, s, env)
	if s.Status != Running || s.Worker != "wa" || s.Attempts != 1 || !s.Holds(start) {
		t.Fatalf("started: %+v", s)
	}
	if env, rej := DecideReport(s, start, now, time.Second); env != nil || rej != nil {
		t.Errorf("the same start again: %v %v", env, rej)
	}
	dup := report(pb.TaskReportKind_TASK_REPORT_KIND_START, "wb", 1)
	if env, _ := DecideReport(s, dup, now, time.Second); env != nil || s.Holds(dup) {
		t.Errorf("a duplicate message started the task again")
	}
	// Progress: rate-limited.
	p := report(pb.TaskReportKind_TASK_REPORT_KIND_PROGRESS, "wa", 1)
	p.Progress = 0.5
	if env, _ := DecideReport(s, p, now, time.Hour); env != nil {
		t.Errorf("progress within the rate limit appended")
	}
	env, _ = DecideReport(s, p, now.Add(2*time.Second), time.Second)
	apply(t, s, env)
	if s.Progress != 0.5 {
		t.Errorf("progress %v", s.Progress)
	}
	// The lease ran out: the redelivery (attempt 2) takes over.
	take := report(pb.TaskReportKind_TASK_REPORT_KIND_START, "wb", 2)
	env, _ = DecideReport(s, take, now, time.Second)
	apply(t, s, env)
	if s.Worker != "wb" || s.Attempts != 2 || s.Progress != 0 || s.Holds(p) {
		t.Fatalf("taken over: %+v", s)
	}
	if env, _ := DecideReport(s, p, now.Add(time.Minute), time.Second); env != nil {
		t.Errorf("the stale attempt's progress appended")
	}
	// A retryable failure with no attempts left: failed.
	f := report(pb.TaskReportKind_TASK_REPORT_KIND_FAILED, "wb", 2)
	f.Retry, f.Error = true, "disk full"
	env, _ = DecideReport(s, f, now, time.Second)
	apply(t, s, env)
	if s.Status != Failed || !s.DeadLetter || s.Error != "disk full" {
		t.Fatalf("failed: %+v", s)
	}

	// A retryable failure with attempts left: queued again, then the dead
	// letter when the next redelivery would pass max_attempts.
	s = submitted(t, 2)
	for i, w := range []string{"wa", "wb"} {
		env, _ = DecideReport(s, report(pb.TaskReportKind_TASK_REPORT_KIND_START, w, uint32(i+1)), now, time.Second)
		apply(t, s, env)
		f := report(pb.TaskReportKind_TASK_REPORT_KIND_FAILED, w, uint32(i+1))
		f.Retry = true
		if i == 0 {
			env, _ = DecideReport(s, f, now, time.Second)
			apply(t, s, env)
			if s.Status != Queued {
				t.Fatalf("after a retryable failure: %+v", s)
			}
		}
	}
	env, _ = DecideReport(s, report(pb.TaskReportKind_TASK_REPORT_KIND_START, "wc", 3), now, time.Second)
	apply(t, s, env)
	if s.Status != Failed || !s.DeadLetter {
		t.Fatalf("a third start of a 2-attempt task: %+v", s)
	}

	// Success, then everything else is "stop".
	s = submitted(t, 0)
	env, _ = DecideReport(s, start, now, time.Second)
	apply(t, s, env)
	ok := report(pb.TaskReportKind_TASK_REPORT_KIND_SUCCEEDED, "wa", 1)
	if _, rej := DecideReport(s, ok, now, time.Second); rej == nil || rej.Field != "result" {
		t.Errorf("a success without its result: %v", rej)
	}
	ok.Result = &pb.TaskResult{Key: "tasks/tk-1/clip.mp4", Bytes: 10}
	env, _ = DecideReport(s, ok, now, time.Second)
	apply(t, s, env)
	if s.Status != Succeeded || s.Result.GetKey() == "" || s.Progress != 1 || s.Holds(ok) {
		t.Fatalf("succeeded: %+v", s)
	}
	if env, _ := DecideReport(s, ok, now, time.Second); env != nil {
		t.Errorf("a report after the end appended")
	}
	if _, rej := DecideCancel(s, &pb.CancelTask{}); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_CONFLICT {
		t.Errorf("cancel after the end: %v", rej)
	}
}

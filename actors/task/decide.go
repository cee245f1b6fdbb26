package task

import (
	"fmt"
	"slices"
	"time"

	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/webhook"
)

// Types of task, and the queue each goes to: online types are real-time
// (someone waits for the answer) and are served before any offline work,
// on reserved slots.
const (
	TypeSnapshot  = "snapshot"
	TypeClip      = "clip"
	TypeTranscode = "transcode"
	TypeTimelapse = "timelapse"
	// TypeLiveTranscode publishes a live rendition of a channel (?codec=
	// on its live URLs) until canceled: started and stopped by the node
	// serving it (actors/rendition), not through the API.
	TypeLiveTranscode = "live_transcode"

	QueueOnline  = "online"
	QueueOffline = "offline"
)

// Types lists the task types.
var Types = []string{TypeSnapshot, TypeClip, TypeTranscode, TypeTimelapse}

// QueueOf is the queue of a task type.
func QueueOf(typ string) string {
	if typ == TypeSnapshot || typ == TypeLiveTranscode {
		return QueueOnline
	}
	return QueueOffline
}

// Limits and defaults of a task's fields.
const (
	MaxRange           = 24 * time.Hour // of a clip, timelapse or transcode of recordings
	MaxPriority        = 9
	DefaultPriority    = 5
	DefaultGroup       = "default"
	DefaultMaxAttempts = 3
	MaxSpeed           = 1000
	DefaultSpeed       = 10
	MaxWidth           = 3840
)

// Renditions are the HLS ladder's rungs a transcode may ask for, by name:
// their height (the width follows the aspect ratio).
var Renditions = map[string]int{"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}

// DefaultRenditions is the ladder of a transcode that names none.
var DefaultRenditions = []string{"360p", "720p"}

func invalid(field, format string, a ...any) *aggregate.Rejection {
	return &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: field, Detail: fmt.Sprintf(format, a...)}
}

// Normalize fills a spec's defaults (queue from the type, priority, group,
// attempts, a timelapse's speed, a transcode's renditions). A spec may
// ask for the online queue (a playback transcode: a viewer waits for it);
// the API's specs never do.
func Normalize(s *pb.TaskSpec) {
	if s.Queue != QueueOnline {
		s.Queue = QueueOf(s.Type)
	}
	if s.Group == "" {
		s.Group = DefaultGroup
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Params == nil {
		s.Params = &pb.TaskParams{}
	}
	switch s.Type {
	case TypeTimelapse:
		if s.Params.Speed == 0 {
			s.Params.Speed = DefaultSpeed
		}
	case TypeTranscode:
		if len(s.Params.Renditions) == 0 {
			s.Params.Renditions = slices.Clone(DefaultRenditions)
		}
	}
}

// CheckSpec validates a normalized spec; the rejection names the field.
func CheckSpec(s *pb.TaskSpec) *aggregate.Rejection {
	if !slices.Contains(Types, s.Type) && s.Type != TypeLiveTranscode {
		return invalid("type", "type must be one of snapshot, clip, transcode, timelapse")
	}
	if !events.ValidID(s.Group) {
		return invalid("group", "group %s", events.IDRule)
	}
	if s.Priority < 0 || s.Priority > MaxPriority {
		return invalid("priority", "priority must be 0..%d", MaxPriority)
	}
	if s.MaxAttempts > 10 {
		return invalid("max_attempts", "max_attempts must be 1..10")
	}
	if s.Type == TypeTranscode && s.Source != "" {
		if s.Device != "" || s.FromUnixMs != 0 || s.ToUnixMs != 0 {
			return invalid("source", "a transcode takes a source (an upload) or a recorded range, not both")
		}
		if !events.ValidID(s.Source) {
			return invalid("source", "source must be an upload id")
		}
		return checkParams(s)
	}
	if s.Source != "" {
		return invalid("source", "only a transcode takes a source")
	}
	if !events.ValidID(s.Device) {
		return invalid("device", "device %s", events.IDRule)
	}
	if s.Channel < 1 || s.Channel > events.MaxChannels {
		return invalid("channel", "channel must be 1..%d", events.MaxChannels)
	}
	if s.Type == TypeLiveTranscode {
		if s.FromUnixMs != 0 || s.ToUnixMs != 0 {
			return invalid("from", "a live transcode has no range")
		}
		return checkParams(s)
	}
	if s.Type == TypeSnapshot {
		if s.ToUnixMs != 0 {
			return invalid("to", "a snapshot is of one instant: give from (or nothing, for live)")
		}
		if s.FromUnixMs < 0 {
			return invalid("from", "from must be a time")
		}
		return checkParams(s)
	}
	if s.FromUnixMs <= 0 {
		return invalid("from", "from is required")
	}
	if s.ToUnixMs <= s.FromUnixMs {
		return invalid("to", "to must be after from")
	}
	if time.Duration(s.ToUnixMs-s.FromUnixMs)*time.Millisecond > MaxRange {
		return invalid("to", "the range must be at most %v", MaxRange)
	}
	return checkParams(s)
}

func checkParams(s *pb.TaskSpec) *aggregate.Rejection {
	p := s.Params
	if p.Timestamp && s.Type != TypeClip && s.Type != TypeTimelapse {
		return invalid("params.timestamp", "timestamp burns the time into a clip or timelapse")
	}
	if p.Width != 0 && (s.Type != TypeSnapshot || p.Width < 16 || p.Width > MaxWidth) {
		return invalid("params.width", "width scales a snapshot: 16..%d", MaxWidth)
	}
	if s.Type == TypeTimelapse && (p.Speed < 2 || p.Speed > MaxSpeed) {
		return invalid("params.speed", "speed must be 2..%d", MaxSpeed)
	}
	if s.Type != TypeTimelapse && p.Speed != 0 {
		return invalid("params.speed", "speed is a timelapse's")
	}
	if s.Type != TypeTranscode && len(p.Renditions) > 0 {
		return invalid("params.renditions", "renditions are a transcode's")
	}
	for _, r := range p.Renditions {
		if _, ok := Renditions[r]; !ok {
			return invalid("params.renditions", "renditions must be among 360p, 480p, 720p, 1080p")
		}
	}
	if len(p.Renditions) != len(slices.Compact(slices.Clone(p.Renditions))) {
		return invalid("params.renditions", "renditions must not repeat")
	}
	return nil
}

// DecideSubmit records a new task (its callback secret sealed by seal).
func DecideSubmit(s *State, m *pb.SubmitTask, allowPrivate bool, seal func(string) []byte) (*pb.Envelope, *aggregate.Rejection) {
	if s.Exists() {
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS, Field: "id", Detail: "a task with this id exists"}
	}
	if m.Spec == nil {
		return nil, invalid("type", "type is required")
	}
	Normalize(m.Spec)
	if r := CheckSpec(m.Spec); r != nil {
		return nil, r
	}
	sub := &pb.TaskSubmitted{Spec: m.Spec, By: m.By}
	if m.CallbackUrl != "" {
		if err := webhook.CheckURL(m.CallbackUrl, allowPrivate); err != nil {
			return nil, invalid("callback_url", "%v", err)
		}
		if err := webhook.CheckSecret(m.CallbackSecret); err != nil {
			return nil, invalid("callback_secret", "%v", err)
		}
		sub.CallbackUrl, sub.SealedCallbackSecret = m.CallbackUrl, seal(m.CallbackSecret)
	} else if m.CallbackSecret != "" {
		return nil, invalid("callback_secret", "callback_secret signs the callbacks to callback_url")
	}
	return &pb.Envelope{Payload: &pb.Envelope_TaskSubmitted{TaskSubmitted: sub}}, nil
}

func notFound() *aggregate.Rejection {
	return &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such task"}
}

// DecideCancel cancels a task that is not over.
func DecideCancel(s *State, m *pb.CancelTask) (*pb.Envelope, *aggregate.Rejection) {
	if !s.Exists() {
		return nil, notFound()
	}
	if s.Terminal() {
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Field: "state", Detail: "the task is " + s.Status + " already"}
	}
	return &pb.Envelope{Payload: &pb.Envelope_TaskCanceled{TaskCanceled: &pb.TaskCanceled{By: m.By, Reason: "canceled"}}}, nil
}

// DecideReport decides a worker's report on its attempt. A start is taken
// when the task is queued, or running an earlier attempt (a redelivery:
// that attempt's lease ran out); a start after max_attempts started ones
// is its dead letter. Attempts are the starts the actor took, so work
// messages redelivered while no node answered do not use any up. Progress, success and failure count only from the attempt
// running; anything else changes nothing, and the answer (Holds false)
// tells the worker to drop the attempt.
func DecideReport(s *State, m *pb.ReportTask, now time.Time, progressEvery time.Duration) (*pb.Envelope, *aggregate.Rejection) {
	if !s.Exists() {
		return nil, notFound()
	}
	if s.Terminal() {
		return nil, nil
	}
	current := s.Holds(m)
	switch m.Kind {
	case pb.TaskReportKind_TASK_REPORT_KIND_START:
		if current {
			return nil, nil // the same start again (a lost answer)
		}
		if s.Status == Running && m.Attempt <= s.Attempt {
			return nil, nil // a duplicate work message
		}
		if s.Attempts >= max(s.Spec.GetMaxAttempts(), 1) {
			return &pb.Envelope{Payload: &pb.Envelope_TaskFailed{TaskFailed: &pb.TaskFailed{Attempt: s.Attempt, DeadLetter: true,
				Error: fmt.Sprintf("gave up after %d attempts: %s", s.Attempts, lastError(s))}}}, nil
		}
		return &pb.Envelope{Payload: &pb.Envelope_TaskStarted{TaskStarted: &pb.TaskStarted{Worker: m.Worker, Attempt: m.Attempt}}}, nil
	}
	if !current {
		return nil, nil
	}
	switch m.Kind {
	case pb.TaskReportKind_TASK_REPORT_KIND_PROGRESS:
		p := min(max(m.Progress, 0), 0.999)
		if m.Result == nil && (p-s.Progress < 0.005 || now.Sub(time.UnixMilli(s.ProgressAt)) < progressEvery) {
			return nil, nil // rate-limited; a partial result is always recorded
		}
		return &pb.Envelope{Payload: &pb.Envelope_TaskProgress{TaskProgress: &pb.TaskProgress{Progress: p, Attempt: m.Attempt, Partial: m.Result}}}, nil
	case pb.TaskReportKind_TASK_REPORT_KIND_SUCCEEDED:
		if m.Result == nil {
			return nil, invalid("result", "a success carries its result")
		}
		return &pb.Envelope{Payload: &pb.Envelope_TaskSucceeded{TaskSucceeded: &pb.TaskSucceeded{Result: m.Result, Attempt: m.Attempt}}}, nil
	case pb.TaskReportKind_TASK_REPORT_KIND_FAILED:
		if m.Retry && s.Attempts < s.Spec.GetMaxAttempts() {
			return &pb.Envelope{Payload: &pb.Envelope_TaskAttemptFailed{TaskAttemptFailed: &pb.TaskAttemptFailed{Error: m.Error, Attempt: m.Attempt, Worker: m.Worker}}}, nil
		}
		return &pb.Envelope{Payload: &pb.Envelope_TaskFailed{TaskFailed: &pb.TaskFailed{Error: m.Error, Attempt: m.Attempt, DeadLetter: m.Retry}}}, nil
	}
	return nil, invalid("kind", "unknown report kind")
}

func lastError(s *State) string {
	if s.Error != "" {
		return s.Error
	}
	return "the worker holding it was lost"
}

// Holds reports whether the worker's attempt is the one running: its
// answer to every report (false: stop it).
func (s *State) Holds(m *pb.ReportTask) bool {
	return s.Status == Running && m.Attempt == s.Attempt && m.Worker == s.Worker
}

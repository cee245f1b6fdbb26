package gateway

import (
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// taskRequest is the body of POST /v1/tasks.
type taskRequest struct {
	Type           *string         `json:"type"`
	Device         *string         `json:"device"`
	Channel        *int64          `json:"channel"`
	From           *string         `json:"from"`
	To             *string         `json:"to"`
	Source         *string         `json:"source"`
	Params         *taskParamsJSON `json:"params"`
	Group          *string         `json:"group"`
	Priority       *int64          `json:"priority"`
	MaxAttempts    *int64          `json:"max_attempts"`
	CallbackURL    *string         `json:"callback_url"`
	CallbackSecret *string         `json:"callback_secret"`
}

type taskParamsJSON struct {
	Timestamp  bool     `json:"timestamp,omitempty"`
	Speed      uint32   `json:"speed,omitempty"`
	Renditions []string `json:"renditions,omitempty"`
	Width      uint32   `json:"width,omitempty"`
}

type taskResultJSON struct {
	Key         string   `json:"key"`
	URL         string   `json:"url"`
	Bytes       int64    `json:"bytes"`
	DurationMS  int64    `json:"duration_ms"`
	ContentType string   `json:"content_type"`
	Files       []string `json:"files,omitempty"`
}

// taskJSON is a task as the API shows it: never its callback secret.
type taskJSON struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	State       string          `json:"state"`
	Progress    float64         `json:"progress"`
	Worker      string          `json:"worker,omitempty"`
	Attempts    uint32          `json:"attempts"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	Result      *taskResultJSON `json:"result"`
	Error       string          `json:"error,omitempty"`
	DeadLetter  bool            `json:"dead_letter,omitempty"`
	Device      string          `json:"device,omitempty"`
	Channel     uint32          `json:"channel,omitempty"`
	From        *time.Time      `json:"from,omitempty"`
	To          *time.Time      `json:"to,omitempty"`
	Source      string          `json:"source,omitempty"`
	Params      taskParamsJSON  `json:"params"`
	Group       string          `json:"group"`
	Priority    int32           `json:"priority"`
	Queue       string          `json:"queue"`
	MaxAttempts uint32          `json:"max_attempts"`
	CallbackURL string          `json:"callback_url,omitempty"`
	CreatedBy   string          `json:"created_by,omitempty"`
	Version     uint64          `json:"version"`
	// CallbackSecret is shown once, in the answer to the submit, when
	// Argus made it.
	CallbackSecret string `json:"callback_secret,omitempty"`
}

func taskView(v *pb.TaskView) taskJSON {
	sp := v.GetSpec()
	out := taskJSON{ID: v.Id, Type: v.Type, State: v.State, Progress: v.Progress, Worker: v.Worker, Attempts: v.Attempts,
		CreatedAt: time.UnixMilli(v.CreatedAtUnixMs).UTC(), StartedAt: msTime(v.StartedAtUnixMs), FinishedAt: msTime(v.FinishedAtUnixMs),
		Error: v.Error, DeadLetter: v.DeadLetter, Device: sp.GetDevice(), Channel: sp.GetChannel(), From: msTime(sp.GetFromUnixMs()),
		To: msTime(sp.GetToUnixMs()), Source: sp.GetSource(), Group: sp.GetGroup(), Priority: sp.GetPriority(), Queue: sp.GetQueue(),
		MaxAttempts: sp.GetMaxAttempts(), CallbackURL: v.CallbackUrl, CreatedBy: v.CreatedBy, Version: v.Version}
	if p := sp.GetParams(); p != nil {
		out.Params = taskParamsJSON{Timestamp: p.Timestamp, Speed: p.Speed, Renditions: append([]string(nil), p.Renditions...), Width: p.Width}
	}
	if r := v.GetResult(); r != nil {
		out.Result = &taskResultJSON{Key: r.Key, URL: "/v1/tasks/" + v.Id + "/result", Bytes: r.Bytes, DurationMS: r.DurationMs,
			ContentType: r.ContentType, Files: append([]string(nil), r.Files...)}
	}
	return out
}

// workerJSON is a worker's registration.
type workerJSON struct {
	ID             string    `json:"id"`
	Group          string    `json:"group"`
	Slots          uint32    `json:"slots"`
	OnlineSlots    uint32    `json:"online_slots"`
	Running        uint32    `json:"running"`
	RunningOffline uint32    `json:"running_offline"`
	Tasks          []string  `json:"tasks"`
	Host           string    `json:"host"`
	StartedAt      time.Time `json:"started_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Done           uint64    `json:"done"`
}

func workerView(w *pb.WorkerInfo) workerJSON {
	return workerJSON{ID: w.Id, Group: w.Group, Slots: w.Slots, OnlineSlots: w.OnlineSlots, Running: w.Running, RunningOffline: w.RunningOffline,
		Tasks: append([]string{}, w.Tasks...), Host: w.Host, StartedAt: time.UnixMilli(w.StartedUnixMs).UTC(),
		UpdatedAt: time.UnixMilli(w.UpdatedUnixMs).UTC(), Done: w.Done}
}

package delivery

import (
	"time"

	"github.com/argus-vms/argus/notify/webhook"
)

// Result is what one delivery attempt got.
type Result struct {
	OK         bool
	Retry      bool          // worth another attempt
	RetryAfter time.Duration // the subscriber asked to wait (Retry-After)
	Gone       bool          // the subscriber asked to be disabled (HTTP 410): Run stops, OnGone is called
	Status     int           // e.g. HTTP status, for the record
	Err        error
	Latency    time.Duration // 0: Run measures the Deliver call
}

// FromAttempt is the Result of one webhook attempt.
func FromAttempt(a webhook.Attempt) Result {
	ok, gone := a.OK(), a.Gone()
	return Result{
		OK:         ok,
		Retry:      !ok && !gone && a.Retry(),
		RetryAfter: a.RetryAfter,
		Gone:       gone,
		Status:     a.Status,
		Err:        a.Err,
		Latency:    a.Latency,
	}
}

// Outcomes of an attempt.
const (
	Delivered = "delivered"
	Retrying  = "retrying"
	Failed    = "failed" // given up: not retryable, or past MaxAge
	Gone      = "gone"
)

// Attempt is one delivery attempt, for the subscriber's delivery log
// (GET /v1/webhooks/{id}/deliveries).
type Attempt struct {
	EventID string
	Seq     uint64
	Type    string
	Device  string
	Attempt int // 1-based
	Time    time.Time
	Status  int
	Latency time.Duration
	Error   string
	Outcome string // Delivered, Retrying, Failed or Gone
}

package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Attempt is what one delivery got.
type Attempt struct {
	Status     int           // HTTP status, 0 when no answer
	RetryAfter time.Duration // from Retry-After (seconds or HTTP date), 0 when absent
	Latency    time.Duration // from sending the request to having read the answer (or failed)
	Err        error         // transport error / refused target, nil when an answer came
}

// OK reports a 2xx answer: delivered.
func (a Attempt) OK() bool { return a.Err == nil && a.Status >= 200 && a.Status < 300 }

// Gone reports 410: the endpoint asks to be disabled.
func (a Attempt) Gone() bool { return a.Err == nil && a.Status == http.StatusGone }

// Retry reports whether another attempt is worth it: no answer (timeout,
// connection refused, reset), 408, 429 or 5xx. Other 4xx say the request
// itself is wrong; a 3xx is not followed (a redirect could point anywhere,
// past the guard's intent) and counts as a failure that another attempt
// would repeat; a refused target stays refused, a bad URL or secret bad.
func (a Attempt) Retry() bool {
	if a.Err != nil {
		return !final(a.Err)
	}
	switch {
	case a.Status == 0:
		return true
	case a.Status == http.StatusRequestTimeout, a.Status == http.StatusTooManyRequests:
		return true
	case a.Status >= 500:
		return true
	}
	return false
}

// maxRetryAfter caps what an endpoint may ask for (and keeps a huge
// number of seconds from overflowing a Duration).
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date
// (relative to now); 0 when absent, malformed or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

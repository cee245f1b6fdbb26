package kvwatch

import (
	"log/slog"
	"time"
)

// Option configures a Watcher.
type Option func(*Watcher)

// OnCurrent calls f each time a watch's initial values have been applied:
// once after the first watch started, and again after every restart (the
// caller may swap in a view rebuilt from the initial values).
func OnCurrent(f func()) Option { return func(w *Watcher) { w.onCurrent = f } }

// WithLog sets the logger (default slog.Default()).
func WithLog(l *slog.Logger) Option {
	return func(w *Watcher) {
		if l != nil {
			w.log = l
		}
	}
}

// WithLag sets how long a revision known to exist (an own write, the
// server's last revision) may stay undelivered before the watch counts as
// stuck; it is also the first attempt's bound on starting a watch. Default
// 500ms.
func WithLag(d time.Duration) Option {
	return func(w *Watcher) {
		if d > 0 {
			w.lag = d
		}
	}
}

// WithQuiet counts a watch that delivered nothing for d as stuck: for
// buckets written to more often than that (heartbeats, renewals).
func WithQuiet(d time.Duration) Option { return func(w *Watcher) { w.quiet = d } }

// WithServerCheck asks the server for the bucket's last revision every d
// and counts the watch as stuck when it has not delivered that revision
// within the lag: for buckets written to rarely, where silence says
// nothing. Each check is one stream info request.
func WithServerCheck(d time.Duration) Option { return func(w *Watcher) { w.check = d } }

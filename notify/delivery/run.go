package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/notify/payload"
)

// Options configure Run.
type Options struct {
	Store   *events.Store
	Cursor  *Cursor
	Start   uint64                          // the sequence OpenCursor returned
	Filters []string                        // subject filters, default the whole log (events.SubjectPrefix + ".>")
	Match   func(payload.Notification) bool // nil: everything
	// Deliver makes one attempt; body is the JSON of n, built once per event.
	// It is called from several goroutines, never two of one device at once.
	// ctx ends when Run stops: an answer other than OK after that is not
	// recorded, and the event is left for the next Run.
	Deliver     func(ctx context.Context, n payload.Notification, body []byte, attempt int) Result
	Concurrency int           // deliveries in flight at once, default 4
	MaxAge      time.Duration // retry a delivery for up to this long from its first attempt, then give up; default 24 h
	MinBackoff  time.Duration // default 1 s; exponential with jitter, one backoff per event
	MaxBackoff  time.Duration // default 10 min; a longer RetryAfter overrides it (capped at MaxAge left)
	Window      int           // most events read ahead of the cursor, default 10000 (reading waits when full)
	SaveEvery   time.Duration // cursor saves, default 500 ms (only when it moved)
	OnAttempt   func(Attempt) // called from the delivering goroutines
	OnGone      func()        // called once, after the last delivery stopped
	Log         *slog.Logger
}

const (
	// finalSaveTimeout bounds the Save as Run ends (its ctx is over by then).
	finalSaveTimeout = 5 * time.Second
	// A failed log read is tried again within seconds: the stream may be
	// electing a leader.
	readMinBackoff = 100 * time.Millisecond
	readMaxBackoff = 5 * time.Second
)

// errGone is the stop cause when the subscriber answered Gone.
var errGone = errors.New("delivery: subscriber gone")

// Run delivers until ctx ends (returns nil after a last Save), the
// subscriber is gone (nil after OnGone), or the cursor moved (ErrMoved). A
// failed log read is retried with backoff from the last event read.
//
// The log is read in order into per-device FIFO queues, one goroutine
// draining each; the cursor is the highest sequence with everything up to
// it done (delivered, given up on, or not matching), so a crash redelivers
// only what came after the last Save, in order per device.
func Run(ctx context.Context, o Options) error {
	if o.Store == nil || o.Cursor == nil || o.Deliver == nil {
		return errors.New("delivery: Run needs a Store, a Cursor and Deliver")
	}
	if len(o.Filters) == 0 {
		o.Filters = []string{events.SubjectPrefix + ".>"}
	}
	o.Concurrency = cmpOr(o.Concurrency, 4)
	o.MaxAge = cmpOr(o.MaxAge, 24*time.Hour)
	o.MinBackoff = cmpOr(o.MinBackoff, time.Second)
	o.MaxBackoff = max(cmpOr(o.MaxBackoff, 10*time.Minute), o.MinBackoff)
	o.Window = cmpOr(o.Window, 10000)
	o.SaveEvery = cmpOr(o.SaveEvery, 500*time.Millisecond)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}

	rctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r := &runner{
		o: o, ctx: rctx, stop: stop,
		sem:    make(chan struct{}, o.Concurrency),
		win:    newWindow(o.Start, o.Window),
		queues: make(map[string][]item),
	}
	var bg sync.WaitGroup
	bg.Go(r.read)
	bg.Go(func() {
		if err := o.Cursor.watch(rctx, func() { stop(ErrMoved) }); err != nil && rctx.Err() == nil {
			o.Log.Warn("delivery: cannot watch the cursor; a move is noticed at the next save", "err", err)
		}
	})

	saved := o.Start
	t := time.NewTicker(o.SaveEvery)
	for rctx.Err() == nil {
		select {
		case <-rctx.Done():
		case <-t.C:
			c := r.win.position()
			if c == saved {
				continue
			}
			switch err := o.Cursor.Save(rctx, c); {
			case err == nil:
				saved = c
			case errors.Is(err, ErrMoved):
				stop(ErrMoved)
			case rctx.Err() == nil:
				o.Log.Warn("delivery: saving the cursor failed; trying again", "seq", c, "err", err)
			}
		}
	}
	t.Stop()
	bg.Wait()         // the reader is the only one starting drainers
	r.drainers.Wait() // nothing is marked done after this

	cause := context.Cause(rctx)
	if errors.Is(cause, ErrMoved) {
		return ErrMoved
	}
	if c := r.win.position(); c != saved {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalSaveTimeout)
		err := o.Cursor.Save(sctx, c)
		cancel()
		if errors.Is(err, ErrMoved) {
			return ErrMoved
		}
		if err != nil {
			return fmt.Errorf("delivery: last save of the cursor at %d: %w", c, err)
		}
	}
	if errors.Is(cause, errGone) && o.OnGone != nil {
		o.OnGone()
	}
	return nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// runner is one Run's state.
type runner struct {
	o    Options
	ctx  context.Context
	stop context.CancelCauseFunc
	sem  chan struct{} // one token per attempt in flight
	win  *window

	mu       sync.Mutex
	queues   map[string][]item // device → events waiting; present while its drainer runs
	drainers sync.WaitGroup
}

// item is one matching event on its way.
type item struct {
	n    payload.Notification
	body []byte
}

// read follows the log from Start into the device queues, starting over
// from the last event read when the read fails, until the Run stops.
func (r *runner) read() {
	last := r.o.Start
	bo := backoff.Backoff{Min: readMinBackoff, Max: readMaxBackoff}
	for {
		err := r.o.Store.Follow(r.ctx, r.o.Filters, last, func(e events.Event) error {
			if e.Seq <= last {
				return nil // already read
			}
			// Waiting for room here is the backpressure: Follow reads no further.
			if err := r.win.enter(r.ctx, e.Seq); err != nil {
				return err
			}
			last = e.Seq
			bo.Reset()
			r.accept(e)
			return nil
		})
		if r.ctx.Err() != nil {
			return
		}
		d := bo.Next()
		r.o.Log.Warn("delivery: reading the log failed; trying again", "after", last, "in", d, "err", err)
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// accept queues a matching event on its device; any other is done at once.
func (r *runner) accept(e events.Event) {
	n, err := payload.FromEvent(e)
	if err != nil {
		r.o.Log.Debug("delivery: skipping an event without a notification", "seq", e.Seq, "err", err)
		r.win.finish(e.Seq)
		return
	}
	if r.o.Match != nil && !r.o.Match(n) {
		r.win.finish(e.Seq)
		return
	}
	body, err := json.Marshal(n)
	if err != nil {
		r.o.Log.Warn("delivery: skipping an event that does not encode", "seq", e.Seq, "event", n.ID, "err", err)
		r.win.finish(e.Seq)
		return
	}
	r.mu.Lock()
	q, running := r.queues[n.Device]
	r.queues[n.Device] = append(q, item{n: n, body: body})
	r.mu.Unlock()
	if !running {
		r.drainers.Add(1)
		go r.drain(n.Device)
	}
}

// drain delivers a device's queue in order and ends once it is empty, so
// one device's deliveries never overlap.
func (r *runner) drain(device string) {
	defer r.drainers.Done()
	for {
		r.mu.Lock()
		q := r.queues[device]
		if len(q) == 0 || r.ctx.Err() != nil {
			delete(r.queues, device)
			r.mu.Unlock()
			return
		}
		it := q[0]
		r.queues[device] = q[1:]
		r.mu.Unlock()
		r.deliver(it)
	}
}

// deliver attempts one event until it is delivered, given up on, the
// subscriber is gone or the Run stops (then it stays not done, for the
// next Run). The semaphore is held per attempt, not across backoff sleeps.
func (r *runner) deliver(it item) {
	n := it.n
	bo := backoff.Backoff{Min: r.o.MinBackoff, Max: r.o.MaxBackoff}
	var first time.Time
	for attempt := 1; ; attempt++ {
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		start := time.Now()
		if attempt == 1 {
			first = start
		}
		res := r.o.Deliver(r.ctx, n, it.body, attempt)
		<-r.sem
		if res.Latency <= 0 {
			res.Latency = time.Since(start)
		}
		if !res.OK && r.ctx.Err() != nil {
			return // cut short by the stop, not the subscriber's answer
		}
		a := Attempt{
			EventID: n.ID, Seq: n.Seq, Type: n.Type, Device: n.Device,
			Attempt: attempt, Time: start, Status: res.Status, Latency: res.Latency,
		}
		if res.Err != nil {
			a.Error = res.Err.Error()
		}
		var wait time.Duration
		switch {
		case res.OK:
			a.Outcome = Delivered
		case res.Gone:
			a.Outcome = Gone
		case res.Retry:
			a.Outcome = Failed
			if left := r.o.MaxAge - time.Since(first); left > 0 {
				a.Outcome = Retrying
				wait = min(max(bo.Next(), res.RetryAfter), left)
			}
		default:
			a.Outcome = Failed
		}
		if r.o.OnAttempt != nil {
			r.o.OnAttempt(a)
		}
		switch a.Outcome {
		case Delivered:
			r.win.finish(n.Seq)
			return
		case Failed:
			r.o.Log.Warn("delivery: giving up on an event", "event", n.ID, "seq", n.Seq, "type", n.Type, "device", n.Device,
				"attempts", attempt, "status", res.Status, "err", a.Error)
			r.win.finish(n.Seq)
			return
		case Gone:
			r.stop(errGone) // not done: a re-enabled subscriber gets it again
			return
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// window tracks the events read ahead of the cursor, in sequence order, and
// bounds how many there may be.
type window struct {
	slots chan struct{} // one per event read and not yet behind the cursor

	mu     sync.Mutex
	seqs   []uint64 // read and ahead of the cursor, ascending
	done   map[uint64]bool
	cursor uint64
}

func newWindow(start uint64, size int) *window {
	return &window{slots: make(chan struct{}, size), done: make(map[uint64]bool), cursor: start}
}

// enter records seq as read, waiting while the window is full.
func (w *window) enter(ctx context.Context, seq uint64) error {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	w.seqs = append(w.seqs, seq)
	w.mu.Unlock()
	return nil
}

// finish marks seq done and moves the cursor over every done event at the
// front.
func (w *window) finish(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[seq] = true
	for len(w.seqs) > 0 && w.done[w.seqs[0]] {
		w.cursor = w.seqs[0]
		delete(w.done, w.cursor)
		w.seqs = w.seqs[1:]
		<-w.slots
	}
}

// position is the cursor: every event up to it is done.
func (w *window) position() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cursor
}

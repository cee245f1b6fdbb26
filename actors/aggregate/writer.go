// Package aggregate is the one decide–append–apply loop every aggregate
// actor (device, plan, stream, and those later issues add) writes through.
//
// An actor decides a command against its state; the Writer stamps the
// event, appends it within the shard's ownership term (so a node that lost
// the shard never writes to it) and hands the stored event back to be
// applied. A conflict means the log holds events the actor has not applied
// (a writer outside any term, in tests): the writer catches up and the
// actor decides again from the new state. A retried append after a lost
// ack is recognised by its event id (events.Store), so it is one event and
// one answer.
package aggregate

import (
	"context"
	"errors"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// ErrNothing is what a decision returns when the command changes nothing.
var ErrNothing = errors.New("aggregate: nothing to append")

// Rejection is a decision that produced no event: the reply code, the
// field it is about, and why.
type Rejection struct {
	Code   pb.ReplyCode
	Field  string
	Detail string
}

// Error makes a rejection the error of a decision.
func (r *Rejection) Error() string { return r.Detail }

// maxDecisions bounds decide → conflict → catch up rounds of one command.
const maxDecisions = 3

// Writer appends one aggregate's events. It is owned by the aggregate's
// actor: not safe for concurrent use.
type Writer struct {
	Store *events.Store
	Ref   events.Ref
	Term  events.Term // the shard's ownership term (Seq 0: unfenced)
	Node  string
	// Version and LastSeq are those of the last event applied.
	Version, LastSeq uint64
	// Known: Version and LastSeq are current. An actor that keeps no
	// history (a stream) starts unknown: the writer reads the aggregate's
	// last event before its first append.
	Known bool
	// OnFenced is called with the term once an append finds it ended.
	OnFenced func(events.Term)

	fenced bool
}

// Decision is one decision against the actor's current state: the event to
// append, ErrNothing, or a rejection (returned to the caller as is).
type Decision func() (*pb.Envelope, error)

// Apply folds a stored event (the actor's own, or one it missed).
type Apply func(events.Event)

// Run decides, appends and applies. It returns the stored event, or the
// decision's error, events.ErrFenced when the shard has a new owner,
// events.ErrUnavailable when the log did not answer, events.ErrConflict
// when conflicts persisted.
func (w *Writer) Run(ctx context.Context, meta *pb.CommandMeta, decide Decision, apply Apply) (events.Event, error) {
	if w.fenced {
		return events.Event{}, events.ErrFenced
	}
	if !w.Known {
		if err := w.syncLast(ctx); err != nil {
			return events.Event{}, err
		}
	}
	for round := 1; ; round++ {
		env, err := decide()
		if err != nil {
			return events.Event{}, err
		}
		events.Stamp(env, w.Ref, w.Version+1, w.Node, meta)
		seq, err := w.Store.AppendInTerm(ctx, w.Ref, env, w.LastSeq, w.Term)
		switch {
		case err == nil:
			e := events.Event{Seq: seq, Subject: w.Ref.Subject(), Envelope: env}
			w.applied(e)
			apply(e)
			return e, nil
		case errors.Is(err, events.ErrFenced):
			w.fenced = true
			if w.OnFenced != nil {
				w.OnFenced(w.Term)
			}
			return events.Event{}, err
		case errors.Is(err, events.ErrConflict) && round < maxDecisions:
			if err := w.CatchUp(ctx, apply); err != nil {
				return events.Event{}, err
			}
		default:
			return events.Event{}, err
		}
	}
}

// Append records a fact that needs no decision (a session started, a
// segment recorded): Run with a decision that always appends env.
func (w *Writer) Append(ctx context.Context, env *pb.Envelope, apply Apply) (events.Event, error) {
	return w.Run(ctx, nil, func() (*pb.Envelope, error) { return env, nil }, apply)
}

// CatchUp applies every event of the aggregate after the last one applied.
func (w *Writer) CatchUp(ctx context.Context, apply Apply) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	evs, err := w.Store.Load(ctx, w.Ref, w.LastSeq)
	if err != nil {
		return err
	}
	for _, e := range evs {
		w.applied(e)
		apply(e)
	}
	w.Known = true
	return nil
}

func (w *Writer) applied(e events.Event) {
	w.Version, w.LastSeq = e.Envelope.GetVersion(), e.Seq
}

// syncLast reads the aggregate's last event: enough to append after it.
func (w *Writer) syncLast(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	seq, env, err := w.Store.Last(ctx, w.Ref)
	if err != nil {
		return err
	}
	w.LastSeq, w.Version, w.Known = seq, env.GetVersion(), true
	return nil
}

// Decide adapts a decision of the (event, rejection) form every aggregate
// decides in: a nil event without a rejection is ErrNothing.
func Decide(decide func() (*pb.Envelope, *Rejection)) Decision {
	return func() (*pb.Envelope, error) {
		env, rej := decide()
		if rej != nil {
			return nil, rej
		}
		if env == nil {
			return nil, ErrNothing
		}
		return env, nil
	}
}

// Outcome is the answer Run's error calls for: nil when the event was
// applied or nothing changed, the decision's rejection, NOT_OWNER when the
// shard has a new owner, CONFLICT when conflicts persisted, UNAVAILABLE
// when the log did not answer.
func Outcome(err error) *Rejection {
	var rej *Rejection
	switch {
	case err == nil, errors.Is(err, ErrNothing):
		return nil
	case errors.As(err, &rej):
		return rej
	case errors.Is(err, events.ErrFenced):
		return &Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_OWNER, Detail: "the shard moved to another node"}
	case errors.Is(err, events.ErrConflict):
		return &Rejection{Code: pb.ReplyCode_REPLY_CODE_CONFLICT, Detail: "a concurrent writer changed it; retry"}
	}
	return &Rejection{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: "event log unavailable; retry"}
}

package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

const (
	// StreamName is the one stream that holds every event.
	StreamName = "ARGUS_EVENTS"
	// SubjectPrefix starts every event subject: argus.evt.<shard>.<kind>.<id>.
	SubjectPrefix = "argus.evt"
)

// Event is an envelope with the stream sequence JetStream gave it.
type Event struct {
	Seq      uint64
	Subject  string
	Envelope *pb.Envelope
}

// Store appends events with optimistic concurrency and reads them back.
type Store struct {
	js            jetstream.JetStream
	stream        jetstream.Stream
	appendTimeout time.Duration
	dupWindow     time.Duration
}

type storeConfig struct {
	replicas      int
	dupWindow     time.Duration
	appendTimeout time.Duration
}

// Option configures Open.
type Option func(*storeConfig)

// WithReplicas sets the stream's replica count (1 on a single node, 3 in a cluster).
func WithReplicas(n int) Option { return func(c *storeConfig) { c.replicas = n } }

// WithAppendTimeout bounds one Append, retries included (default 5s).
func WithAppendTimeout(d time.Duration) Option { return func(c *storeConfig) { c.appendTimeout = d } }

// WithDuplicateWindow sets how long a Nats-Msg-Id is remembered for retries
// (default three append timeouts).
func WithDuplicateWindow(d time.Duration) Option { return func(c *storeConfig) { c.dupWindow = d } }

// Open creates or updates the ARGUS_EVENTS stream and returns a store on it.
func Open(ctx context.Context, nc *nats.Conn, opts ...Option) (*Store, error) {
	cfg := storeConfig{replicas: 1, appendTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dupWindow == 0 {
		// The duplicate window only has to outlast an append's retries (the
		// append timeout); every id in it is held in the server's memory and
		// marked by every garbage collection of an embedded server.
		cfg.dupWindow = 3 * cfg.appendTimeout
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(cfg.appendTimeout))
	if err != nil {
		return nil, err
	}
	st, err := EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Argus event log: every decision of every aggregate",
		Subjects:    []string{SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    cfg.replicas,
		Duplicates:  cfg.dupWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return &Store{js: js, stream: st, appendTimeout: cfg.appendTimeout, dupWindow: cfg.dupWindow}, nil
}

// JetStream exposes the context for the store's neighbours (projections, KV).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Stream is the ARGUS_EVENTS stream handle.
func (s *Store) Stream() jetstream.Stream { return s.stream }

// Term is one ownership term of a shard: the sequence of the
// shard.acquired event that opened it. Every append of the shard's
// aggregates carries it as the expected last sequence of the shard's
// ownership subject, so once another node acquires the shard no append of
// this term lands (JetStream checks it as the message is stored).
type Term struct {
	Shard int
	Seq   uint64 // 0: no term (the append is checked on its own subject only)
}

// Subject is the ownership subject whose last sequence the term expects.
func (t Term) Subject() string { return ShardRef(t.Shard).Subject() }

// Append stores env on ref's subject if the subject's last sequence is still
// expectedLast (0 = the aggregate has no events yet). It returns the new
// sequence. ErrConflict when another writer won; ErrUnavailable when the log
// did not answer within the append timeout or ctx ended. Retries of a
// temporary failure reuse the event id, so JetStream's dedupe window makes
// them safe; a retry that finds the subject moved looks for its own event
// there (on one server the sequence check runs before the dedupe, so a
// retry after a lost ack sees a conflict caused by itself).
func (s *Store) Append(ctx context.Context, ref Ref, env *pb.Envelope, expectedLast uint64) (uint64, error) {
	return s.append(ctx, ref, env, &expectation{seq: expectedLast}, expectedLast)
}

// AppendInTerm stores env on ref's subject if term is still the shard's
// current ownership term: the aggregate's own sequence is not checked, since
// within a term one actor is its only writer. lastSeq is the aggregate's
// last applied sequence (where a retry looks for its own event).
// ErrFenced when another node acquired the shard since.
func (s *Store) AppendInTerm(ctx context.Context, ref Ref, env *pb.Envelope, lastSeq uint64, term Term) (uint64, error) {
	if term.Seq == 0 {
		return s.Append(ctx, ref, env, lastSeq)
	}
	seq, err := s.append(ctx, ref, env, &expectation{seq: term.Seq, subject: term.Subject()}, lastSeq)
	if errors.Is(err, ErrConflict) {
		return 0, ErrFenced
	}
	return seq, err
}

// AppendFact stores env on ref's subject with no sequence check: a fact
// about something that happened (a view), not a decision of the
// aggregate's owner, so no term fences it. Retries reuse the event id.
func (s *Store) AppendFact(ctx context.Context, ref Ref, env *pb.Envelope) (uint64, error) {
	return s.append(ctx, ref, env, nil, 0)
}

// expectation is the sequence check of an append: the last sequence of
// subject ("" = the appended subject) must be seq.
type expectation struct {
	seq     uint64
	subject string
}

// append publishes env on ref's subject with the expectation (nil: none).
func (s *Store) append(ctx context.Context, ref Ref, env *pb.Envelope, expect *expectation, lastSeq uint64) (uint64, error) {
	if !ValidAggregateID(ref.Kind, ref.ID) {
		return 0, ErrInvalidID
	}
	data, err := proto.Marshal(env)
	if err != nil {
		return 0, err
	}
	return s.publishRetry(ctx, ref.Subject(), data, env.EventId, expect, 0, func() (uint64, bool, error) {
		return s.findOwn(ctx, ref, lastSeq, env.EventId)
	})
}

// publishRetry publishes one message until it is stored, a check refuses
// it, or the append timeout passes. Attempts reuse the message id (the
// dedupe window makes them safe). findOwn (nil: none), on a refused check,
// looks for an earlier attempt that landed. ttl > 0 makes the message expire.
func (s *Store) publishRetry(ctx context.Context, subject string, data []byte, id string, expect *expectation, ttl time.Duration, findOwn func() (uint64, bool, error)) (uint64, error) {
	deadline := time.Now().Add(s.appendTimeout)
	temporary := backoff.Backoff{Min: 20 * time.Millisecond, Max: 500 * time.Millisecond}
	// Replicated streams refuse a check on a subject while another checked
	// message is in flight for it: not a conflict yet, tried again soon.
	busy := backoff.Backoff{Min: time.Millisecond, Max: 50 * time.Millisecond}
	// wait sleeps d unless that passes the deadline or ctx ends.
	wait := func(d time.Duration) bool {
		if time.Now().Add(d).After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for {
		seq, err := s.publish(ctx, subject, data, id, expect, ttl, min(attemptTimeout, max(time.Until(deadline), time.Millisecond)))
		switch {
		case err == nil:
			return seq, nil
		case isBusy(err):
			if !wait(busy.Next()) {
				return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
		case isConflict(err):
			// An earlier attempt (this call's, after a lost ack, or the
			// caller's) may have stored this very event.
			if findOwn == nil {
				return 0, ErrConflict
			}
			if seq, found, ferr := findOwn(); ferr != nil {
				return 0, fmt.Errorf("%w: %v", ErrUnavailable, ferr)
			} else if found {
				return seq, nil
			}
			return 0, ErrConflict
		case isTemporary(err) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
			disconnected(err):
			if !wait(temporary.Next()) {
				return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		default:
			return 0, err
		}
	}
}

// disconnected: the connection to NATS broke (the publish was refused, or
// its ack lost) and is being re-established. A retry after the reconnect is
// safe: it carries the same id, and the term's fence refuses it should the
// shard have moved meanwhile.
func disconnected(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded)
}

// findOwn looks for the event id among the aggregate's events after
// afterSeq: an earlier attempt of this append that landed.
func (s *Store) findOwn(ctx context.Context, ref Ref, afterSeq uint64, id string) (uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.appendTimeout)
	defer cancel()
	evs, err := s.Load(ctx, ref, afterSeq)
	if err != nil {
		return 0, false, err
	}
	for _, e := range evs {
		if e.Envelope.GetEventId() == id {
			return e.Seq, true, nil
		}
	}
	return 0, false, nil
}

// publish sends one message through the asynchronous publisher and waits
// for its ack: concurrent appends from many actors then share flushes and
// one ack subscription instead of a request round trip each.
//
// One attempt waits at most attemptTimeout: a publish that reached a stream
// leader as it died is never acked, and sending it again (same id) reaches
// the next leader as soon as one is elected, instead of after the whole
// append timeout.
func (s *Store) publish(ctx context.Context, subject string, data []byte, id string, expect *expectation, ttl time.Duration, wait time.Duration) (uint64, error) {
	m := &nats.Msg{Subject: subject, Data: data, Header: make(nats.Header, 4)}
	opts := make([]jetstream.PublishOpt, 0, 3)
	opts = append(opts, jetstream.WithMsgID(id))
	switch {
	case expect != nil && expect.subject != "":
		opts = append(opts, jetstream.WithExpectLastSequenceForSubject(expect.seq, expect.subject))
	case expect != nil:
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(expect.seq))
	}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	paf, err := s.js.PublishMsgAsync(m, opts...)
	if err != nil {
		return 0, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case ack := <-paf.Ok():
		return ack.Sequence, nil
	case err := <-paf.Err():
		return 0, err
	case <-t.C:
		return 0, jetstream.ErrAsyncPublishTimeout
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// readerIdle is how long the server keeps a reader's ordered consumer
// after its last pull (a scan, a tail or a lookup pulls continuously while
// it reads; nats.go's default of 5 min lets finished readers pile up).
const readerIdle = 10 * time.Second

// attemptTimeout bounds one publish attempt of an Append: about one Raft
// election, far above a healthy ack.
const attemptTimeout = time.Second

// Load returns the events of one aggregate after sequence afterSeq, in order.
func (s *Store) Load(ctx context.Context, ref Ref, afterSeq uint64) ([]Event, error) {
	var out []Event
	err := s.Scan(ctx, []string{ref.Subject()}, afterSeq, func(e Event) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// Scan calls fn for every event on subjects matching any of filters with a
// sequence after afterSeq, in stream order, and returns once it has seen the
// last one that existed when it started. It reads through one ordered
// consumer, so activation reads all its shards in one pass rather than shard
// by shard or aggregate by aggregate.
func (s *Store) Scan(ctx context.Context, filters []string, afterSeq uint64, fn func(Event) error) error {
	return s.consume(ctx, filters, afterSeq, true, fn)
}

// Follow calls fn for every event on subjects matching filters after
// afterSeq, in order, including those appended later, until ctx ends or fn
// returns an error (live tails).
func (s *Store) Follow(ctx context.Context, filters []string, afterSeq uint64, fn func(Event) error) error {
	return s.consume(ctx, filters, afterSeq, false, fn)
}

// consume reads through one ordered consumer from afterSeq+1; toEnd stops
// at the last event that existed when it started (Scan), otherwise it waits
// for new ones (Follow).
func (s *Store) consume(ctx context.Context, filters []string, afterSeq uint64, toEnd bool, fn func(Event) error) error {
	return consume(ctx, s.stream, filters, afterSeq, toEnd, fn)
}

// consume reads stream through one ordered consumer (see Store.consume).
func consume(ctx context.Context, stream jetstream.Stream, filters []string, afterSeq uint64, toEnd bool, fn func(Event) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: readerIdle}
	if afterSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	// Creating the consumer needs the stream's leader: right after a node
	// died that may take an election, so short attempts until ctx ends.
	cons, err := retryEach(ctx, attemptTimeout, "read the log", func(ctx context.Context) (jetstream.Consumer, error) {
		return stream.OrderedConsumer(ctx, cfg)
	})
	if err != nil {
		return err
	}
	if info := cons.CachedInfo(); toEnd && (info == nil || info.NumPending == 0) {
		return nil
	}
	// A short heartbeat: a consumer on a server that died is noticed (two
	// missed beats) and replaced in seconds, not after the default 30 s pull
	// expiry. Shorter still for a scan: a node taking over a dead node's
	// shards waits on it before they serve (one kill's scan stalled 2 s).
	hb := time.Second
	if toEnd {
		hb = 500 * time.Millisecond // the least nats.go allows
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2048), jetstream.PullHeartbeat(hb))
	if err != nil {
		return err
	}
	defer iter.Stop()
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	for {
		m, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		env := &pb.Envelope{}
		if err := proto.Unmarshal(m.Data(), env); err != nil {
			if toEnd {
				return fmt.Errorf("events: seq %d on %s: %w", md.Sequence.Stream, m.Subject(), err)
			}
			continue // a live tail skips what it cannot read rather than end
		}
		if err := fn(Event{Seq: md.Sequence.Stream, Subject: m.Subject(), Envelope: env}); err != nil {
			return err
		}
		if toEnd && md.NumPending == 0 {
			return nil
		}
	}
}

// Aggregates lists the IDs of every aggregate of kind in shard, from the
// stream's subject index (no side table to keep in step).
func (s *Store) Aggregates(ctx context.Context, shard int, kind string) ([]string, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(ShardFilter(shard, kind)))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		// argus.evt.<shard>.<kind>.<id>
		if parts := strings.SplitN(subj, ".", 5); len(parts) == 5 {
			ids = append(ids, parts[4])
		}
	}
	return ids, nil
}

// Last returns the sequence and envelope of an aggregate's latest event
// (0, nil when it has none): enough for an actor that appends but does not
// need its whole history, such as a stream session.
//
// Each attempt gets a second: a request that reached the stream leader as it
// died is never answered, and the next one reaches the new leader.
func (s *Store) Last(ctx context.Context, ref Ref) (uint64, *pb.Envelope, error) {
	m, err := retryEach(ctx, attemptTimeout, "read the last event", func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		return s.stream.GetLastMsgForSubject(ctx, ref.Subject())
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	env := &pb.Envelope{}
	if err := proto.Unmarshal(m.Data, env); err != nil {
		return 0, nil, err
	}
	return m.Sequence, env, nil
}

// LastSeq is the stream's last sequence (for lag metrics).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// SeqAt is the sequence of the first event stored at or after t (the log's
// last sequence + 1 when there is none yet): where a replay "from a time"
// starts.
func (s *Store) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	cons, err := retryEach(ctx, attemptTimeout, "read the log", func(ctx context.Context) (jetstream.Consumer, error) {
		return s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy,
			OptStartTime: &t, InactiveThreshold: readerIdle})
	})
	if err != nil {
		return 0, err
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		last, err := s.LastSeq(ctx)
		return last + 1, err
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		return 0, err
	}
	md, err := m.Metadata()
	if err != nil {
		return 0, err
	}
	return md.Sequence.Stream, nil
}

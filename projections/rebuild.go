package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Rebuild errors the API maps to statuses.
var (
	ErrUnknownProjector = errors.New("projections: unknown projector")
	ErrRebuildRunning   = errors.New("projections: a rebuild is already running")
)

// RebuildAll names every projector in Rebuild.
const RebuildAll = "all"

// Rebuild states.
const (
	RebuildRunning = "running"
	RebuildDone    = "done"
	RebuildFailed  = "failed"
)

// ProjectorStatus is one projector as Status reports it.
type ProjectorStatus struct {
	Name    string           `json:"name"`
	Tables  []string         `json:"tables"`
	Lag     uint64           `json:"lag"`      // events in the log not yet projected
	LastSeq uint64           `json:"last_seq"` // last stream sequence projected (ack floor)
	Rebuild *RebuildProgress `json:"rebuild,omitempty"`
}

// RebuildProgress is the state of the running (or last) rebuild of a
// projector. Done and Total count events of the log (stream sequences);
// Total grows while the rebuild catches up with events appended meanwhile.
type RebuildProgress struct {
	State        string     `json:"state"` // running|done|failed
	Phase        string     `json:"phase"` // replay|catch-up|swap|done
	Database     string     `json:"database"`
	Done         uint64     `json:"done"`
	Total        uint64     `json:"total"`
	EventsPerSec float64    `json:"events_per_sec"`
	ETASeconds   float64    `json:"eta_seconds"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// sinkNames are the projectors Run starts, in order; each writes the table
// of the same name in Database.
var sinkNames = []string{"events", "devices", "recordings", "device_status", "stream_sessions", "audit", "alarms", "tasks"}

// newSink is a fresh sink of projector name writing into database db.
func newSink(name string, conn driver.Conn, db string) Sink {
	t := db + "." + name
	switch name {
	case "events":
		return &EventsSink{Conn: conn, Table: t}
	case "devices":
		return &DevicesSink{Conn: conn, Table: t}
	case "recordings":
		return &RecordingsSink{Conn: conn, Table: t}
	case "device_status":
		return &StatusSink{Conn: conn, Table: t}
	case "stream_sessions":
		return &SessionsSink{Conn: conn, Table: t}
	case "audit":
		return &AuditSink{Conn: conn, Table: t}
	case "alarms":
		return &AlarmsSink{Conn: conn, Table: t}
	case "tasks":
		return &TasksSink{Conn: conn, Table: t}
	}
	return nil
}

// rebuildState is the rebuild bookkeeping of one Service.
type rebuildState struct {
	mu       sync.Mutex
	running  bool
	progress map[string]*RebuildProgress // by projector name; last rebuild
}

// live is the running projectors and the connection (ErrNoClickHouse
// before Run has them).
func (s *Service) live() (driver.Conn, []*Projector, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.conn == nil {
		return nil, nil, ErrNoClickHouse
	}
	return s.conn, s.projectors, nil
}

// Status reports every projector: its table, lag, last projected sequence
// and the progress of its running or last rebuild.
func (s *Service) Status(ctx context.Context) ([]ProjectorStatus, error) {
	_, ps, err := s.live()
	if err != nil {
		return nil, err
	}
	rs := &s.rebuild
	out := make([]ProjectorStatus, 0, len(ps))
	for _, p := range ps {
		name := p.sink.Name()
		info, err := p.consumer.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("projector %s: %w", name, err)
		}
		st := ProjectorStatus{Name: name, Tables: []string{Database + "." + name},
			Lag: info.NumPending + uint64(info.NumAckPending), LastSeq: info.AckFloor.Stream}
		rs.mu.Lock()
		if pr := rs.progress[name]; pr != nil {
			cp := *pr
			st.Rebuild = &cp
		}
		rs.mu.Unlock()
		out = append(out, st)
	}
	return out, nil
}

// Rebuild starts rebuilding projector name (or RebuildAll) in the
// background and returns at once; Status shows the progress.
//
// The rebuild creates database argus_rebuild_<unix> with the full schema
// and replays the log from sequence 1 through an ordered (ephemeral)
// consumer into fresh sinks writing there, up to the stream's last sequence
// as of the start, then keeps catching up with events appended meanwhile.
// Close to the head it pauses the live projectors' durable consumers
// (JetStream consumer pause; the pause expires by itself should this
// process die), waits until they have written and acknowledged everything
// delivered to them, catches up to the log's last sequence (≥ every live
// position), and swaps all rebuilt tables into Database with one RENAME
// TABLE statement (old tables go to argus_old_<unix>, dropped afterwards):
// a query sees the old tables or the new ones, never a mix. The live sinks
// forget their cached state (they reload it from the new tables) and their
// consumers resume where they stopped; events between a live position and
// the rebuild's end are written again with the same seq, which
// ReplacingMergeTree(seq) and the sinks' seq checks make harmless.
func (s *Service) Rebuild(ctx context.Context, name string) error {
	conn, ps, err := s.live()
	if err != nil {
		return err
	}
	var targets []*Projector
	for _, p := range ps {
		if name == RebuildAll || p.sink.Name() == name {
			targets = append(targets, p)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: %q (want one of %s or %s)", ErrUnknownProjector, name, strings.Join(sinkNames, ", "), RebuildAll)
	}
	rs := &s.rebuild
	rs.mu.Lock()
	if rs.running {
		rs.mu.Unlock()
		return ErrRebuildRunning
	}
	rs.running = true
	now := time.Now()
	ts := now.Unix()
	r := &rebuild{
		svc: s, conn: conn, rs: rs, live: targets,
		newDB: fmt.Sprintf("%s_rebuild_%d", Database, ts),
		oldDB: fmt.Sprintf("%s_old_%d", Database, ts),
		start: now,
	}
	for _, p := range targets {
		rs.progress[p.sink.Name()] = &RebuildProgress{State: RebuildRunning, Phase: "replay", Database: r.newDB, StartedAt: now}
	}
	rs.mu.Unlock()

	go func() {
		// Not the caller's context: the request that started it is over.
		err := r.run(context.WithoutCancel(ctx))
		rs.mu.Lock()
		defer rs.mu.Unlock()
		rs.running = false
		end := time.Now()
		for _, p := range targets {
			pr := rs.progress[p.sink.Name()]
			pr.FinishedAt = &end
			pr.ETASeconds = 0
			if err != nil {
				pr.State, pr.Error = RebuildFailed, err.Error()
			} else {
				pr.State, pr.Phase = RebuildDone, "done"
			}
		}
		if err != nil {
			s.log.Error("projection rebuild failed; the live tables are unchanged", "projector", name, "err", err)
		} else {
			s.log.Info("projection rebuild done", "projector", name, "seconds", end.Sub(now).Seconds())
		}
	}()
	return nil
}

// rebuild is one run of Rebuild.
type rebuild struct {
	svc          *Service
	conn         driver.Conn
	rs           *rebuildState
	live         []*Projector
	feeds        []*feed // one per stream the projectors read
	newDB, oldDB string
	start        time.Time
}

// feed replays one stream into the fresh sinks of the projectors reading it.
type feed struct {
	stream  jetstream.Stream
	live    []*Projector // the live projectors of this stream
	sinks   []*Projector // fresh sinks in newDB (Projector for its write retry)
	cons    jetstream.Consumer
	first   uint64 // first sequence of the stream at start
	lastSeq uint64 // last sequence written to the fresh sinks
	done    uint64 // events read
}

func (r *rebuild) run(ctx context.Context) (err error) {
	log := r.svc.log
	if err := MigrateInto(ctx, r.conn, r.newDB); err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			r.drop(r.newDB)
		}
	}()
	for _, p := range r.live {
		var f *feed
		for _, g := range r.feeds {
			if g.stream == p.stream {
				f = g
			}
		}
		if f == nil {
			f = &feed{stream: p.stream}
			r.feeds = append(r.feeds, f)
		}
		f.live = append(f.live, p)
		f.sinks = append(f.sinks, &Projector{sink: newSink(p.sink.Name(), r.conn, r.newDB), log: log})
	}
	for _, f := range r.feeds {
		info, err := f.stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream info: %w", err)
		}
		f.first = max(info.State.FirstSeq, 1)
		f.cons, err = f.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{streamSubject(f.stream)},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return fmt.Errorf("ordered consumer: %w", err)
		}
		log.Info("projection rebuild started", "database", r.newDB, "stream", info.Config.Name, "projectors", len(f.live), "events", info.State.LastSeq)
		// 1. Replay the stream as of the start.
		if err := r.feedTo(ctx, f, info.State.LastSeq); err != nil {
			return err
		}
	}
	// 2. Catch up with what came meanwhile, the live projectors running,
	// until the rest is small.
	r.setPhase("catch-up")
	for _, f := range r.feeds {
		for {
			last, err := streamLast(ctx, f.stream)
			if err != nil {
				return err
			}
			if last <= f.lastSeq+5000 {
				break
			}
			if err := r.feedTo(ctx, f, last); err != nil {
				return err
			}
		}
	}
	// 3. Pause the live projectors, wait until what they fetched is
	// written, finish the catch-up and swap.
	if err := r.pauseLive(ctx); err != nil {
		r.resumeLive()
		return err
	}
	defer r.resumeLive()
	for _, f := range r.feeds {
		last, err := streamLast(ctx, f.stream)
		if err != nil {
			return err
		}
		if err := r.feedTo(ctx, f, last); err != nil {
			return err
		}
	}
	r.setPhase("swap")
	if err := r.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+r.oldDB); err != nil {
		return fmt.Errorf("create %s: %w", r.oldDB, err)
	}
	var pairs []string
	for _, p := range r.live {
		t := p.sink.Name()
		pairs = append(pairs, fmt.Sprintf("%s.%s TO %s.%s, %s.%s TO %s.%s", Database, t, r.oldDB, t, r.newDB, t, Database, t))
	}
	// One statement: atomic for readers on 18.16 and 25.x alike.
	if err := r.conn.Exec(ctx, "RENAME TABLE "+strings.Join(pairs, ", ")); err != nil {
		r.drop(r.oldDB)
		return fmt.Errorf("swap: %w", err)
	}
	swapped = true
	// The live sinks are quiet (paused, nothing unacknowledged): make them
	// forget state read from the old tables; they reload it from the new.
	for _, p := range r.live {
		switch sk := p.sink.(type) {
		case *DevicesSink:
			sk.cache = nil
		case *StatusSink:
			sk.cache = nil
		case *SessionsSink:
			sk.cache = nil
		case *TasksSink:
			sk.cache = nil
		}
	}
	r.drop(r.newDB)
	r.drop(r.oldDB)
	log.Info("projection tables swapped", "projectors", len(r.live))
	return nil
}

// drop removes a database, best effort.
func (r *rebuild) drop(db string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		r.svc.log.Warn("rebuild: drop database failed", "database", db, "err", err)
	}
}

func streamLast(ctx context.Context, stream jetstream.Stream) (uint64, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// feedTo reads the log through sequence target into the fresh sinks.
func (r *rebuild) feedTo(ctx context.Context, f *feed, target uint64) error {
	r.setTotal(f, target)
	for f.lastSeq < target {
		// Ask for no more than is left: Fetch returns once it has them.
		msgs, err := f.cons.Fetch(int(min(target-f.lastSeq, 5000)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		var batch []events.Event
		for m := range msgs.Messages() {
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			f.lastSeq = md.Sequence.Stream
			f.done++
			env := &pb.Envelope{}
			if err := proto.Unmarshal(m.Data(), env); err != nil {
				r.svc.log.Error("rebuild: undecodable event skipped", "seq", md.Sequence.Stream, "err", err)
				continue
			}
			batch = append(batch, events.Event{Seq: md.Sequence.Stream, Subject: m.Subject(), Envelope: env})
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
			r.svc.log.Debug("rebuild fetch ended", "err", err)
		}
		if len(batch) > 0 {
			var wg sync.WaitGroup
			for _, w := range f.sinks {
				wg.Go(func() { w.write(ctx, batch) })
			}
			wg.Wait()
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if f.lastSeq < target && len(batch) == 0 {
			// The last sequences may be deleted or outside the filter:
			// done once the consumer has nothing pending.
			if ci, err := f.cons.Info(ctx); err == nil && ci.NumPending == 0 {
				f.lastSeq = target
			}
		}
		r.setDone(f)
	}
	return nil
}

func (r *rebuild) setPhase(phase string) {
	r.rs.mu.Lock()
	defer r.rs.mu.Unlock()
	for _, p := range r.live {
		r.rs.progress[p.sink.Name()].Phase = phase
	}
}

func (r *rebuild) setTotal(f *feed, target uint64) {
	r.rs.mu.Lock()
	defer r.rs.mu.Unlock()
	total := uint64(0)
	if target >= f.first {
		total = target - f.first + 1
	}
	for _, p := range f.live {
		pr := r.rs.progress[p.sink.Name()]
		pr.Total = max(pr.Total, total)
	}
}

func (r *rebuild) setDone(f *feed) {
	r.rs.mu.Lock()
	defer r.rs.mu.Unlock()
	el := time.Since(r.start).Seconds()
	for _, p := range f.live {
		pr := r.rs.progress[p.sink.Name()]
		pr.Done = f.done
		pr.Total = max(pr.Total, f.done)
		if el > 0 {
			pr.EventsPerSec = float64(pr.Done) / el
		}
		if pr.EventsPerSec > 0 {
			pr.ETASeconds = float64(pr.Total-pr.Done) / pr.EventsPerSec
		}
	}
}

// pauseFor bounds a pause: should this process die mid-swap the live
// projectors resume by themselves.
const pauseFor = 5 * time.Minute

// pauseLive pauses the live projectors' consumers and waits until every
// message delivered to them is written and acknowledged.
func (r *rebuild) pauseLive(ctx context.Context) error {
	for _, p := range r.live {
		if _, err := p.stream.PauseConsumer(ctx, ConsumerName(p.sink.Name()), time.Now().Add(pauseFor)); err != nil {
			return fmt.Errorf("pause %s: %w", ConsumerName(p.sink.Name()), err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, p := range r.live {
		for {
			info, err := p.consumer.Info(ctx)
			if err != nil {
				return fmt.Errorf("consumer %s: %w", ConsumerName(p.sink.Name()), err)
			}
			if info.NumAckPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("projector %s still has %d unacknowledged events (ClickHouse slow or down?)", p.sink.Name(), info.NumAckPending)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func (r *rebuild) resumeLive() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range r.live {
		if _, err := p.stream.ResumeConsumer(ctx, ConsumerName(p.sink.Name())); err != nil {
			r.svc.log.Error("rebuild: resume consumer failed; it resumes when its pause expires", "consumer", ConsumerName(p.sink.Name()),
				"err", err, "within", pauseFor)
		}
	}
}

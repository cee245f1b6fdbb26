package projections

import (
	"context"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
)

// TasksSink keeps argus.tasks: one row per task (ReplacingMergeTree by
// seq), folded with the aggregate's own task.State.Apply on top of the row
// ClickHouse has (loaded once per task per process); events at or below the
// row's seq are skipped, so redelivery is harmless. A task whose
// task.submitted was never seen (a trimmed log) gets no row. The sealed
// callback secret is never written: the table has no column for it.
//
// A finished task (succeeded, failed, canceled) takes no more events, so it
// leaves the cache once written; should one come anyway, the row is loaded
// again.
type TasksSink struct {
	Conn  driver.Conn
	Table string // default argus.tasks

	cache map[string]*task.State
}

func (s *TasksSink) Name() string { return "tasks" }

func (s *TasksSink) table() string {
	if s.Table != "" {
		return s.Table
	}
	return Database + ".tasks"
}

// taskOf is the task an event is about ("" when it is no task event).
func taskOf(e events.Event) string {
	if e.Envelope.AggregateKind != events.KindTask {
		return ""
	}
	return e.Envelope.AggregateId
}

// taskInsert is the column list of an insert into the tasks table.
const taskInsert = "id, type, state, progress, worker, attempt, attempts, device, channel, from_ms, to_ms, source, `group`, priority, " +
	"queue, key_id, max_attempts, param_timestamp, param_speed, param_renditions, param_width, callback_url, created_by, " +
	"created_at, created_at_ms, started_at_ms, finished_at_ms, progress_at_ms, has_result, result_key, result_bytes, duration_ms, " +
	"content_type, result_files, error, dead_letter, version, created_seq, seq"

func (s *TasksSink) Write(ctx context.Context, batch []events.Event) error {
	if s.cache == nil {
		s.cache = map[string]*task.State{}
	}
	var missing []string
	for _, e := range batch {
		if id := taskOf(e); id != "" && s.cache[id] == nil && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 && !slices.ContainsFunc(batch, func(e events.Event) bool { return taskOf(e) != "" }) {
		return nil
	}
	loaded, err := s.load(ctx, missing)
	if err != nil {
		return err
	}
	// Fold into copies: the cache changes only once the insert succeeded.
	next := map[string]*task.State{}
	changed := map[string]bool{}
	for _, e := range batch {
		id := taskOf(e)
		if id == "" {
			continue
		}
		st := next[id]
		if st == nil {
			st = &task.State{}
			if old := s.cache[id]; old != nil {
				*st = *old
			} else if old := loaded[id]; old != nil {
				*st = *old
			}
			next[id] = st
		}
		if e.Seq <= st.LastSeq {
			continue // redelivered
		}
		st.Apply(e)
		changed[id] = true
	}
	if len(changed) > 0 {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.table()+" ("+taskInsert+")")
		if err != nil {
			return err
		}
		defer b.Abort()
		rows := 0
		for id := range changed {
			st := next[id]
			if st.CreatedSeq == 0 || !st.Exists() {
				continue // events of a task whose submission was never seen (a trimmed log)
			}
			sp, pr, res := st.Spec, st.Spec.GetParams(), st.Result
			renditions, files := pr.GetRenditions(), res.GetFiles()
			if renditions == nil {
				renditions = []string{}
			}
			if files == nil {
				files = []string{}
			}
			if err := b.Append(st.ID, sp.GetType(), st.Status, st.Progress, st.Worker, st.Attempt, st.Attempts,
				sp.GetDevice(), sp.GetChannel(), ums(sp.GetFromUnixMs()), ums(sp.GetToUnixMs()), sp.GetSource(), sp.GetGroup(),
				sp.GetPriority(), sp.GetQueue(), sp.GetKeyId(), sp.GetMaxAttempts(),
				boolByte(pr.GetTimestamp()), pr.GetSpeed(), renditions, pr.GetWidth(),
				st.CallbackURL, st.By, time.UnixMilli(st.CreatedAt), ums(st.CreatedAt), ums(st.StartedAt), ums(st.FinishedAt), ums(st.ProgressAt),
				boolByte(res != nil), res.GetKey(), res.GetBytes(), res.GetDurationMs(), res.GetContentType(), files,
				st.Error, boolByte(st.DeadLetter), st.Version, st.CreatedSeq, st.LastSeq); err != nil {
				return err
			}
			rows++
		}
		if rows > 0 {
			if err := b.Send(); err != nil {
				return err
			}
		}
	}
	for id, st := range next {
		if st.Terminal() {
			delete(s.cache, id)
		} else {
			s.cache[id] = st
		}
	}
	return nil
}

// load reads the rows of tasks the cache lacks.
func (s *TasksSink) load(ctx context.Context, ids []string) (map[string]*task.State, error) {
	out := map[string]*task.State{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		items, err := queryTasks(ctx, s.Conn, s.table(), "id IN ?", []any{inSet(chunk)}, "", 0)
		if err != nil {
			return nil, err
		}
		for _, st := range items {
			out[st.ID] = st
		}
	}
	return out, nil
}

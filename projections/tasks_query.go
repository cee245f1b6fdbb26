package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// ErrBadCursor: TaskQuery.Cursor is not a next cursor Tasks returned.
var ErrBadCursor = errors.New("projections: cursor must be a next_cursor from a previous page")

// TaskQuery filters the task history (zero values: any).
type TaskQuery struct {
	ID                  string // one task
	State, Type, Device string
	From, To            time.Time // created in [From, To); zero: open
	// Limit is the page size (0: every match, and no next cursor).
	Limit int
	// Cursor is the next cursor of the previous page ("" : the first).
	Cursor string
}

const taskColumns = "id, type, state, progress, worker, attempt, attempts, device, channel, from_ms, to_ms, source, `group`, priority, " +
	"queue, key_id, max_attempts, param_timestamp, param_speed, param_renditions, param_width, callback_url, created_by, " +
	"created_at_ms, started_at_ms, finished_at_ms, progress_at_ms, has_result, result_key, result_bytes, duration_ms, " +
	"content_type, result_files, error, dead_letter, version, created_seq, seq"

// queryTasks reads task rows (FINAL) matching where, as the task states
// they were folded from (without the callback secret, which the table has
// not).
func queryTasks(ctx context.Context, conn driver.Conn, table, where string, args []any, order string, limit int) ([]*task.State, error) {
	q := "SELECT " + taskColumns + " FROM " + table + " FINAL WHERE " + where + order
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*task.State
	for rows.Next() {
		var (
			st                                      task.State
			sp                                      pb.TaskSpec
			pr                                      pb.TaskParams
			res                                     pb.TaskResult
			from, to, created, started, finished, p uint64
			stamp, hasResult, dead                  uint8
		)
		if err := rows.Scan(&st.ID, &sp.Type, &st.Status, &st.Progress, &st.Worker, &st.Attempt, &st.Attempts,
			&sp.Device, &sp.Channel, &from, &to, &sp.Source, &sp.Group, &sp.Priority, &sp.Queue, &sp.KeyId, &sp.MaxAttempts,
			&stamp, &pr.Speed, &pr.Renditions, &pr.Width, &st.CallbackURL, &st.By,
			&created, &started, &finished, &p, &hasResult, &res.Key, &res.Bytes, &res.DurationMs, &res.ContentType, &res.Files,
			&st.Error, &dead, &st.Version, &st.CreatedSeq, &st.LastSeq); err != nil {
			return nil, err
		}
		sp.FromUnixMs, sp.ToUnixMs = int64(from), int64(to)
		pr.Timestamp = stamp == 1
		st.CreatedAt, st.StartedAt, st.FinishedAt, st.ProgressAt = int64(created), int64(started), int64(finished), int64(p)
		st.DeadLetter = dead == 1
		if len(pr.Renditions) == 0 {
			pr.Renditions = nil
		}
		if proto.Size(&pr) > 0 {
			sp.Params = &pr
		}
		if proto.Size(&sp) > 0 {
			st.Spec = &sp
		}
		if hasResult == 1 {
			if len(res.Files) == 0 {
				res.Files = nil
			}
			st.Result = &res
		}
		out = append(out, &st)
	}
	return out, rows.Err()
}

// Tasks: see Analytics.Tasks.
func (s *Service) Tasks(ctx context.Context, q TaskQuery) ([]*pb.TaskView, string, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, "", err
	}
	return a.Tasks(ctx, q)
}

// TaskStats: see Analytics.TaskStats.
func (s *Service) TaskStats(ctx context.Context, from, to time.Time, groupBy string) ([]TasksItem, error) {
	a, err := s.analytics()
	if err != nil {
		return nil, err
	}
	return a.TaskStats(ctx, from, to, groupBy)
}

// taskCursor is the opaque cursor after the task created at ms with id.
func taskCursor(ms int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10) + "|" + id))
}

// parseTaskCursor reads a taskCursor.
func parseTaskCursor(cur string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	msStr, id, ok := strings.Cut(string(b), "|")
	ms, err := strconv.ParseInt(msStr, 10, 64)
	if !ok || err != nil || ms < 0 || !events.ValidID(id) {
		return 0, "", ErrBadCursor
	}
	return ms, id, nil
}

// Tasks pages the task history, newest submission first (created_at, then
// id, both descending). next is the cursor of the following page, "" on the
// last one (or when q.Limit is 0). A bad q.Cursor is ErrBadCursor.
func (a *Analytics) Tasks(ctx context.Context, q TaskQuery) (items []*pb.TaskView, next string, err error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.ID != "" {
		add("id = ?", q.ID)
	}
	if q.State != "" {
		add("state = ?", q.State)
	}
	if q.Type != "" {
		add("type = ?", q.Type)
	}
	if q.Device != "" {
		add("device = ?", q.Device)
	}
	if !q.From.IsZero() {
		add("created_at_ms >= ?", uint64(max(q.From.UnixMilli(), 0)))
	}
	if !q.To.IsZero() {
		add("created_at_ms < ?", uint64(max(q.To.UnixMilli(), 0)))
	}
	if q.Cursor != "" {
		ms, id, err := parseTaskCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at_ms < ? OR (created_at_ms = ? AND id < ?))")
		args = append(args, uint64(ms), uint64(ms), id)
	}
	if len(where) == 0 {
		where = append(where, "1")
	}
	limit := 0
	if q.Limit > 0 {
		limit = q.Limit + 1 // one more tells whether a next page exists
	}
	states, err := queryTasks(ctx, a.Conn, a.db()+".tasks", strings.Join(where, " AND "), args, " ORDER BY created_at_ms DESC, id DESC", limit)
	if err != nil {
		return nil, "", err
	}
	if q.Limit > 0 && len(states) > q.Limit {
		states = states[:q.Limit]
		last := states[len(states)-1]
		next = taskCursor(last.CreatedAt, last.ID)
	}
	items = make([]*pb.TaskView, 0, len(states))
	for _, st := range states {
		items = append(items, st.View())
	}
	return items, next, nil
}

// TasksItem is one group of the task analytics.
type TasksItem struct {
	Key       string `json:"key"` // the type, the state, or the hour (RFC 3339)
	Submitted uint64 `json:"submitted"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Canceled  uint64 `json:"canceled"`
	// MeanRunSeconds: start of the last attempt to the end, over the
	// succeeded and failed tasks that started.
	MeanRunSeconds float64 `json:"mean_run_seconds"`
}

// TaskStats counts the tasks submitted in [from, to) grouped by type, state
// or hour (of the submission).
func (a *Analytics) TaskStats(ctx context.Context, from, to time.Time, groupBy string) ([]TasksItem, error) {
	key := map[string]string{"type": "type", "state": "state",
		"hour": "toString(intDiv(created_at_ms, 3600000) * 3600)"}[groupBy]
	if key == "" {
		return nil, fmt.Errorf("projections: group_by %q", groupBy)
	}
	rows, err := a.Conn.Query(ctx, "SELECT "+key+" AS k, count(), countIf(state = 'succeeded'), countIf(state = 'failed'), countIf(state = 'canceled'), "+
		"avgIf((finished_at_ms - started_at_ms) / 1000, state IN ('succeeded', 'failed') AND started_at_ms > 0 AND finished_at_ms >= started_at_ms) FROM "+
		a.db()+".tasks FINAL WHERE created_at_ms >= ? AND created_at_ms < ? GROUP BY k ORDER BY k",
		uint64(max(from.UnixMilli(), 0)), uint64(max(to.UnixMilli(), 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TasksItem
	for rows.Next() {
		var it TasksItem
		var mean float64
		if err := rows.Scan(&it.Key, &it.Submitted, &it.Succeeded, &it.Failed, &it.Canceled, &mean); err != nil {
			return nil, err
		}
		if mean == mean { // avgIf of nothing is NaN
			it.MeanRunSeconds = mean
		}
		if groupBy == "hour" {
			var sec int64
			fmt.Sscan(it.Key, &sec)
			it.Key = time.Unix(sec, 0).UTC().Format(time.RFC3339)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

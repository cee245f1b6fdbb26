package projections_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/test/testenv"
	"google.golang.org/protobuf/proto"
)

// ---- task events through the store ----------------------------------------

// taskLog appends task events as the task actor would (per task versions,
// optimistic concurrency) and folds them with task.State as the reference.
type taskLog struct {
	store *events.Store
	last  map[string]uint64
	ver   map[string]uint64
	ref   map[string]*task.State
	all   []events.Event
}

func newTaskLog(store *events.Store) *taskLog {
	return &taskLog{store: store, last: map[string]uint64{}, ver: map[string]uint64{}, ref: map[string]*task.State{}}
}

func (l *taskLog) add(t *testing.T, id string, at time.Time, payload *pb.Envelope) {
	t.Helper()
	ref := events.Ref{Shard: events.ShardOf(id, events.DefaultShards), Kind: events.KindTask, ID: id}
	l.ver[id]++
	env := &pb.Envelope{
		EventId: fmt.Sprintf("%s-%d", id, l.ver[id]), AggregateKind: events.KindTask, AggregateId: id, Version: l.ver[id],
		TimeUnixMs: at.UnixMilli(), Node: "n1", Payload: payload.Payload,
	}
	env.Type = events.TypeOf(env)
	seq, err := l.store.Append(context.Background(), ref, env, l.last[id])
	if err != nil {
		t.Fatalf("append %s %s: %v", id, env.Type, err)
	}
	l.last[id] = seq
	e := events.Event{Seq: seq, Subject: ref.Subject(), Envelope: env}
	l.all = append(l.all, e)
	st := l.ref[id]
	if st == nil {
		st = &task.State{}
		l.ref[id] = st
	}
	st.Apply(e)
}

// views are the reference views of the submitted tasks, newest first.
func (l *taskLog) views(keep func(*task.State) bool) []*pb.TaskView {
	var sts []*task.State
	for _, st := range l.ref {
		if st.CreatedSeq > 0 && (keep == nil || keep(st)) {
			sts = append(sts, st)
		}
	}
	slices.SortFunc(sts, func(a, b *task.State) int {
		if a.CreatedAt != b.CreatedAt {
			return int(b.CreatedAt - a.CreatedAt)
		}
		return strings.Compare(b.ID, a.ID)
	})
	out := make([]*pb.TaskView, len(sts))
	for i, st := range sts {
		out[i] = st.View()
	}
	return out
}

const secretMark = "SECRET-sealed-callback-key"

func taskSubmitted(spec *pb.TaskSpec, by string) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskSubmitted{TaskSubmitted: &pb.TaskSubmitted{
		Spec: spec, CallbackUrl: "https://hooks.example/argus?task=" + by, SealedCallbackSecret: []byte(secretMark + "-" + by), By: by}}}
}
func taskStarted(worker string, attempt uint32) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskStarted{TaskStarted: &pb.TaskStarted{Worker: worker, Attempt: attempt}}}
}
func taskProgress(p float64, attempt uint32) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskProgress{TaskProgress: &pb.TaskProgress{Progress: p, Attempt: attempt}}}
}
func taskSucceeded(res *pb.TaskResult, attempt uint32) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskSucceeded{TaskSucceeded: &pb.TaskSucceeded{Result: res, Attempt: attempt}}}
}
func taskFailed(msg string, attempt uint32, dead bool) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskFailed{TaskFailed: &pb.TaskFailed{Error: msg, Attempt: attempt, DeadLetter: dead}}}
}
func taskAttemptFailed(msg string, attempt uint32, worker string) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskAttemptFailed{TaskAttemptFailed: &pb.TaskAttemptFailed{Error: msg, Attempt: attempt, Worker: worker}}}
}
func taskCanceled(by, reason string) *pb.Envelope {
	return &pb.Envelope{Payload: &pb.Envelope_TaskCanceled{TaskCanceled: &pb.TaskCanceled{By: by, Reason: reason}}}
}

// taskIDs are the ids of views.
func taskIDs(vs []*pb.TaskView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Id
	}
	return out
}

// sameViews fails unless got equals want, view by view.
func sameViews(t *testing.T, what string, got, want []*pb.TaskView) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tasks %v; want %d %v", what, len(got), taskIDs(got), len(want), taskIDs(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: item %d\n got  %v\n want %v", what, i, got[i], want[i])
		}
	}
}

// rawTaskRows is count() without FINAL.
func rawTaskRows(t *testing.T, conn driver.Conn, table string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkTasks compares every row with the reference fold: the view, and the
// version and seq columns.
func checkTasks(t *testing.T, a *projections.Analytics, conn driver.Conn, table string, l *taskLog, stage string) {
	t.Helper()
	ctx := context.Background()
	all, next, err := a.Tasks(ctx, projections.TaskQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" {
		t.Fatalf("%s: next %q without a limit", stage, next)
	}
	sameViews(t, stage+": all", all, l.views(nil))
	for id, st := range l.ref {
		got, _, err := a.Tasks(ctx, projections.TaskQuery{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if st.CreatedSeq == 0 {
			if len(got) != 0 {
				t.Fatalf("%s: %s, never submitted, has a row: %v", stage, id, got)
			}
			continue
		}
		sameViews(t, stage+": "+id, got, []*pb.TaskView{st.View()})
		var version, seq, createdSeq uint64
		var attempt uint32
		if err := conn.QueryRow(ctx, "SELECT version, seq, created_seq, attempt FROM "+table+" FINAL WHERE id = ?", id).
			Scan(&version, &seq, &createdSeq, &attempt); err != nil {
			t.Fatal(err)
		}
		if version != st.Version || seq != st.LastSeq || createdSeq != st.CreatedSeq || attempt != st.Attempt {
			t.Fatalf("%s: %s version %d seq %d created_seq %d attempt %d; want %d %d %d %d", stage, id, version, seq, createdSeq, attempt,
				st.Version, st.LastSeq, st.CreatedSeq, st.Attempt)
		}
	}
	// The state filter sees the latest version only, though older rows
	// wait for a merge.
	for _, state := range []string{task.Queued, task.Running, task.Succeeded, task.Failed, task.Canceled} {
		got, _, err := a.Tasks(ctx, projections.TaskQuery{State: state})
		if err != nil {
			t.Fatal(err)
		}
		sameViews(t, stage+": state "+state, got, l.views(func(st *task.State) bool { return st.Status == state }))
	}
}

// ---- 1. TasksSink: transitions, restart, redelivery, no secret -------------

func TestTasksSinkFoldsStateTransitions(t *testing.T) {
	ctx := context.Background()
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	db := migratedDB(t, conn)
	table := db + ".tasks"
	store := openStore(t)
	l := newTaskLog(store)
	a := &projections.Analytics{Conn: conn, DB: db}
	s := func(d time.Duration) time.Time { return t0.Add(d) }

	// Stage 1: four submissions.
	l.add(t, "t-clip", s(0), taskSubmitted(&pb.TaskSpec{Type: task.TypeClip, Device: "cam-1", Channel: 1,
		FromUnixMs: s(-10 * time.Minute).UnixMilli(), ToUnixMs: s(-9 * time.Minute).UnixMilli(), Params: &pb.TaskParams{Timestamp: true},
		Group: "default", Priority: 5, Queue: task.QueueOffline, KeyId: "key-a", MaxAttempts: 3}, "key-a"))
	l.add(t, "t-snap", s(time.Second), taskSubmitted(&pb.TaskSpec{Type: task.TypeSnapshot, Device: "cam-2", Channel: 2,
		Params: &pb.TaskParams{Width: 640}, Group: "gpu", Priority: 9, Queue: task.QueueOnline, KeyId: "key-b", MaxAttempts: 1}, "key-b"))
	l.add(t, "t-tl", s(2*time.Second), taskSubmitted(&pb.TaskSpec{Type: task.TypeTimelapse, Device: "cam-1", Channel: 1,
		FromUnixMs: s(-2 * time.Hour).UnixMilli(), ToUnixMs: s(-time.Hour).UnixMilli(), Params: &pb.TaskParams{Speed: 100},
		Group: "default", Priority: 1, Queue: task.QueueOffline, KeyId: "key-a", MaxAttempts: 3}, "key-a"))
	l.add(t, "t-tr", s(3*time.Second), taskSubmitted(&pb.TaskSpec{Type: task.TypeTranscode, Source: "up-1",
		Params: &pb.TaskParams{Renditions: []string{"360p", "720p"}}, Group: "default", Priority: 5, Queue: task.QueueOffline,
		KeyId: "key-c", MaxAttempts: 2}, "key-c"))
	r := startProjector(t, store.Stream(), &projections.TasksSink{Conn: conn, Table: table})
	waitLag0(t, r.p, 20*time.Second)
	checkTasks(t, a, conn, table, l, "submitted")

	// Stage 2: starts, progress, a cancel while queued, and events of a
	// task whose submission is not in the log.
	l.add(t, "t-clip", s(10*time.Second), taskStarted("w1/0", 1))
	l.add(t, "t-clip", s(20*time.Second), taskProgress(0.5, 1))
	l.add(t, "t-snap", s(11*time.Second), taskStarted("w1/1", 1))
	l.add(t, "t-tl", s(12*time.Second), taskCanceled("key-a", "not needed"))
	l.add(t, "t-tr", s(13*time.Second), taskStarted("w2/0", 1))
	l.add(t, "t-tr", s(14*time.Second), taskProgress(0.2, 1))
	l.add(t, "t-orphan", s(15*time.Second), taskStarted("w2/1", 1))
	waitLag0(t, r.p, 20*time.Second)
	checkTasks(t, a, conn, table, l, "running")

	// Stage 3: a failed attempt, a retry that succeeds, a dead letter.
	l.add(t, "t-clip", s(30*time.Second), taskAttemptFailed("ffmpeg: exit status 1", 1, "w1/0"))
	l.add(t, "t-clip", s(40*time.Second), taskStarted("w2/1", 2))
	l.add(t, "t-clip", s(50*time.Second), taskProgress(0.3, 2))
	l.add(t, "t-clip", s(70*time.Second), taskSucceeded(&pb.TaskResult{Key: "tasks/t-clip/clip.mp4", Bytes: 123456,
		DurationMs: 60000, ContentType: "video/mp4"}, 2))
	l.add(t, "t-snap", s(16*time.Second), taskFailed("no recording at that time", 1, true))
	waitLag0(t, r.p, 20*time.Second)
	checkTasks(t, a, conn, table, l, "finished")

	// Stage 4, after a restart: a fresh sink (empty cache) loads the row of
	// the running transcode from ClickHouse and folds on top of it.
	r.stop()
	l.add(t, "t-tr", s(80*time.Second), taskProgress(0.7, 1))
	l.add(t, "t-tr", s(90*time.Second), taskSucceeded(&pb.TaskResult{Key: "tasks/t-tr/index.m3u8", Bytes: 999,
		DurationMs: 1000, ContentType: "application/vnd.apple.mpegurl", Files: []string{"360p/index.m3u8", "720p/index.m3u8"}}, 1))
	r = startProjector(t, store.Stream(), &projections.TasksSink{Conn: conn, Table: table})
	waitLag0(t, r.p, 20*time.Second)
	checkTasks(t, a, conn, table, l, "after restart")
	if st := l.ref["t-tr"]; st.Attempts != 1 || st.Status != task.Succeeded || len(st.Result.GetFiles()) != 2 {
		t.Fatalf("reference t-tr = %+v", st)
	}
	if st := l.ref["t-clip"]; st.Attempts != 2 || st.Error != "" || st.Worker != "w2/1" {
		t.Fatalf("reference t-clip = %+v", st)
	}

	// Every version of a task was written (one row per batch): FINAL keeps
	// the latest.
	raw := rawTaskRows(t, conn, table)
	n, _, err := counts(conn, table)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || raw <= n {
		t.Fatalf("tasks: %d rows FINAL, %d raw; want 4 FINAL and older versions raw", n, raw)
	}

	// Redelivery: the whole log through a fresh sink (as after a restart),
	// then a tail again through the same sink (as after a failed insert):
	// nothing changes, not even a duplicate row.
	fresh := &projections.TasksSink{Conn: conn, Table: table}
	for _, b := range [][]events.Event{l.all, l.all[len(l.all)/2:], l.all[len(l.all)-3:]} {
		if err := fresh.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	checkTasks(t, a, conn, table, l, "after redelivery")
	if got := rawTaskRows(t, conn, table); got != raw {
		t.Fatalf("raw rows after redelivery %d; before %d", got, raw)
	}

	// No secret: no column for it, and the sealed bytes nowhere in a row.
	var secretCols uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = 'tasks' AND "+
		"(positionCaseInsensitive(name, 'secret') > 0 OR positionCaseInsensitive(name, 'sealed') > 0)", db).Scan(&secretCols); err != nil {
		t.Fatal(err)
	}
	if secretCols != 0 {
		t.Fatalf("%d secret columns in %s", secretCols, table)
	}
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = 'tasks'", db)
	if err != nil {
		t.Fatal(err)
	}
	var strCols []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "String":
			strCols = append(strCols, "position(`"+name+"`, '"+secretMark+"') > 0")
		case "Array(String)":
			strCols = append(strCols, "position(arrayStringConcat(`"+name+"`, ' '), '"+secretMark+"') > 0")
		}
	}
	rows.Close()
	if len(strCols) < 10 {
		t.Fatalf("only %d string columns: %v", len(strCols), strCols)
	}
	var leaks uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE "+strings.Join(strCols, " OR ")).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatalf("%d rows hold the sealed callback secret", leaks)
	}
	// The callback URL is kept as given.
	got, _, err := a.Tasks(ctx, projections.TaskQuery{ID: "t-clip"})
	if err != nil || len(got) != 1 || got[0].CallbackUrl != "https://hooks.example/argus?task=key-a" || got[0].CreatedBy != "key-a" {
		t.Fatalf("t-clip = %v, %v", got, err)
	}
}

// ---- 2. Paging, filters, analytics ------------------------------------------

// taskScenario appends n tasks, two by two submitted at the same instant
// (10 minutes apart), in two phases: every submission first (projected on
// its own, so older row versions remain), then the outcome by i%5:
// queued, running, succeeded (every other after a failed attempt), failed
// (every other a dead letter), canceled.
func taskScenario(t *testing.T, l *taskLog, wait func(), n int) {
	types := []string{task.TypeSnapshot, task.TypeClip, task.TypeTranscode, task.TypeTimelapse}
	created := func(i int) time.Time { return t0.Add(time.Duration(i/2) * 10 * time.Minute) }
	for i := range n {
		l.add(t, fmt.Sprintf("task-%02d", i), created(i), taskSubmitted(&pb.TaskSpec{Type: types[i%4], Device: fmt.Sprintf("cam-%d", i%3),
			Channel: 1, Group: "default", Priority: int32(i % 10), Queue: task.QueueOf(types[i%4]), KeyId: "key-a", MaxAttempts: 3}, "key-a"))
	}
	wait()
	for i := range n {
		id, at := fmt.Sprintf("task-%02d", i), created(i)
		switch i % 5 {
		case 1:
			l.add(t, id, at.Add(time.Minute), taskStarted("w1/0", 1))
			l.add(t, id, at.Add(90*time.Second), taskProgress(0.25, 1))
		case 2:
			attempt := uint32(1)
			if i%2 == 0 {
				l.add(t, id, at.Add(30*time.Second), taskStarted("w1/0", 1))
				l.add(t, id, at.Add(40*time.Second), taskAttemptFailed("lease expired", 1, "w1/0"))
				attempt = 2
			}
			l.add(t, id, at.Add(time.Minute), taskStarted("w1/1", attempt))
			l.add(t, id, at.Add(time.Minute+time.Duration(i+1)*time.Second), taskSucceeded(&pb.TaskResult{Key: "tasks/" + id, Bytes: int64(i)}, attempt))
		case 3:
			l.add(t, id, at.Add(2*time.Minute), taskStarted("w2/0", 1))
			l.add(t, id, at.Add(2*time.Minute+time.Duration(i*2)*time.Second), taskFailed("bad input", 1, i%2 == 1))
		case 4:
			l.add(t, id, at.Add(30*time.Second), taskCanceled("key-a", ""))
		}
	}
	wait()
}

// wantTaskStats is TaskStats computed from the reference fold.
func wantTaskStats(l *taskLog, from, to time.Time, groupBy string) []projections.TasksItem {
	by := map[string]*projections.TasksItem{}
	runs := map[string][]float64{}
	for _, st := range l.ref {
		if st.CreatedSeq == 0 || st.CreatedAt < from.UnixMilli() || st.CreatedAt >= to.UnixMilli() {
			continue
		}
		key := map[string]string{"type": st.Spec.GetType(), "state": st.Status,
			"hour": time.UnixMilli(st.CreatedAt).UTC().Truncate(time.Hour).Format(time.RFC3339)}[groupBy]
		it := by[key]
		if it == nil {
			it = &projections.TasksItem{Key: key}
			by[key] = it
		}
		it.Submitted++
		switch st.Status {
		case task.Succeeded:
			it.Succeeded++
		case task.Failed:
			it.Failed++
		case task.Canceled:
			it.Canceled++
		}
		if (st.Status == task.Succeeded || st.Status == task.Failed) && st.StartedAt > 0 {
			runs[key] = append(runs[key], float64(st.FinishedAt-st.StartedAt)/1000)
		}
	}
	var out []projections.TasksItem
	for key, it := range by {
		if rs := runs[key]; len(rs) > 0 {
			var sum float64
			for _, r := range rs {
				sum += r
			}
			it.MeanRunSeconds = sum / float64(len(rs))
		}
		out = append(out, *it)
	}
	slices.SortFunc(out, func(a, b projections.TasksItem) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func checkTaskStats(t *testing.T, what string, got, want []projections.TasksItem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %+v; want %+v", what, got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.Submitted != w.Submitted || g.Succeeded != w.Succeeded || g.Failed != w.Failed || g.Canceled != w.Canceled ||
			!near(g.MeanRunSeconds, w.MeanRunSeconds) {
			t.Fatalf("%s: item %d %+v; want %+v", what, i, g, w)
		}
	}
}

func TestTasksQueryPagingFiltersAndStats(t *testing.T) {
	ctx := context.Background()
	conn := chConn(t, testenv.ClickHouse(t).Addr())
	db := migratedDB(t, conn)
	store := openStore(t)
	l := newTaskLog(store)
	r := startProjector(t, store.Stream(), &projections.TasksSink{Conn: conn, Table: db + ".tasks"})
	const n = 23
	taskScenario(t, l, func() { waitLag0(t, r.p, 20*time.Second) }, n)
	a := &projections.Analytics{Conn: conn, DB: db}
	checkTasks(t, a, conn, db+".tasks", l, "scenario")
	if raw := rawTaskRows(t, conn, db+".tasks"); raw <= n {
		t.Fatalf("%d raw rows; want older versions of the %d tasks waiting for a merge", raw, n)
	}

	// page walks q page by page, limit items each.
	page := func(q projections.TaskQuery, limit int) []*pb.TaskView {
		t.Helper()
		var out []*pb.TaskView
		q.Limit = limit
		for pages := 0; ; pages++ {
			items, next, err := a.Tasks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) > limit || (next != "" && len(items) != limit) || pages > n {
				t.Fatalf("page %d: %d items, next %q (limit %d)", pages, len(items), next, limit)
			}
			out = append(out, items...)
			if next == "" {
				return out
			}
			q.Cursor = next
		}
	}
	all := l.views(nil)
	for _, limit := range []int{1, 2, 4, 7, n, n + 5} {
		sameViews(t, fmt.Sprintf("pages of %d", limit), page(projections.TaskQuery{}, limit), all)
	}
	// Two tasks share each creation instant: the id breaks the tie, also
	// across a page boundary.
	first, next, err := a.Tasks(ctx, projections.TaskQuery{Limit: 1})
	if err != nil || len(first) != 1 || first[0].Id != "task-22" || next == "" {
		t.Fatalf("first page %v, next %q, err %v; want task-22 and a cursor", taskIDs(first), next, err)
	}
	second, _, err := a.Tasks(ctx, projections.TaskQuery{Limit: 2, Cursor: next})
	if err != nil || !slices.Equal(taskIDs(second), []string{"task-21", "task-20"}) {
		t.Fatalf("second page %v, err %v; want task-21, task-20", taskIDs(second), err)
	}

	// Filters, alone, combined and paged.
	from, to := t0.Add(20*time.Minute), t0.Add(60*time.Minute)
	cases := []struct {
		name string
		q    projections.TaskQuery
		keep func(*task.State) bool
	}{
		{"type clip", projections.TaskQuery{Type: task.TypeClip}, func(s *task.State) bool { return s.Spec.GetType() == task.TypeClip }},
		{"device cam-1", projections.TaskQuery{Device: "cam-1"}, func(s *task.State) bool { return s.Spec.GetDevice() == "cam-1" }},
		{"state failed", projections.TaskQuery{State: task.Failed}, func(s *task.State) bool { return s.Status == task.Failed }},
		{"from", projections.TaskQuery{From: from}, func(s *task.State) bool { return s.CreatedAt >= from.UnixMilli() }},
		{"to", projections.TaskQuery{To: to}, func(s *task.State) bool { return s.CreatedAt < to.UnixMilli() }},
		{"window", projections.TaskQuery{From: from, To: to}, func(s *task.State) bool {
			return s.CreatedAt >= from.UnixMilli() && s.CreatedAt < to.UnixMilli()
		}},
		{"type and device", projections.TaskQuery{Type: task.TypeSnapshot, Device: "cam-0"}, func(s *task.State) bool {
			return s.Spec.GetType() == task.TypeSnapshot && s.Spec.GetDevice() == "cam-0"
		}},
		{"state queued from", projections.TaskQuery{State: task.Queued, From: from}, func(s *task.State) bool {
			return s.Status == task.Queued && s.CreatedAt >= from.UnixMilli()
		}},
		{"nothing", projections.TaskQuery{Device: "cam-9"}, func(*task.State) bool { return false }},
	}
	for _, c := range cases {
		want := l.views(c.keep)
		if len(want) == 0 && c.name != "nothing" {
			t.Fatalf("%s: the scenario has no such task", c.name)
		}
		got, next, err := a.Tasks(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if next != "" {
			t.Fatalf("%s: next %q without a limit", c.name, next)
		}
		sameViews(t, c.name, got, want)
		sameViews(t, c.name+" paged", page(c.q, 2), want)
	}

	// Bad cursors.
	for _, cur := range []string{"!!!", base64.RawURLEncoding.EncodeToString([]byte("x|task-01")),
		base64.RawURLEncoding.EncodeToString([]byte("123")), base64.RawURLEncoding.EncodeToString([]byte("123|Bad Id"))} {
		if _, _, err := a.Tasks(ctx, projections.TaskQuery{Limit: 5, Cursor: cur}); !errors.Is(err, projections.ErrBadCursor) {
			t.Fatalf("cursor %q: err %v; want ErrBadCursor", cur, err)
		}
	}

	// Analytics.
	for _, w := range []struct{ from, to time.Time }{{t0.Add(-time.Hour), t0.Add(3 * time.Hour)}, {from, to}} {
		for _, groupBy := range []string{"type", "state", "hour"} {
			got, err := a.TaskStats(ctx, w.from, w.to, groupBy)
			if err != nil {
				t.Fatal(err)
			}
			want := wantTaskStats(l, w.from, w.to, groupBy)
			if len(want) == 0 {
				t.Fatalf("group_by %s: the scenario has no group", groupBy)
			}
			checkTaskStats(t, fmt.Sprintf("group_by %s [%v, %v)", groupBy, w.from, w.to), got, want)
		}
	}
	if got, err := a.TaskStats(ctx, t0.Add(-time.Hour), t0.Add(3*time.Hour), "hour"); err != nil ||
		len(got) != 2 || got[0].Key != "2024-05-01T12:00:00Z" || got[0].Submitted != 12 || got[1].Submitted != n-12 {
		t.Fatalf("hours %+v, %v; want 12 tasks at 12:00 and %d at 13:00", got, err, n-12)
	}
	if got, err := a.TaskStats(ctx, t0.Add(5*time.Hour), t0.Add(6*time.Hour), "type"); err != nil || len(got) != 0 {
		t.Fatalf("an empty window: %+v, %v", got, err)
	}
	if _, err := a.TaskStats(ctx, t0, t0.Add(time.Hour), "device"); err == nil {
		t.Fatal("group_by device: no error")
	}
}

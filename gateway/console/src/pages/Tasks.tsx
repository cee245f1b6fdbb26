import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, FINISHED_STATES, may, TASK_TYPES, taskOver, type Task, type TaskQuery, type WorkerList } from '../api';
import { ErrorBox } from '../components';
import { FieldError, TextField, type Errors } from '../forms';
import { navigate } from '../router';
import { stamp } from './device/time';
import { NewTask } from './tasks/NewTask';
import { TaskTable } from './tasks/TaskTable';
import { usePoll } from './tasks/util';
import './tasks/tasks.css';

/** POLL_MS: how often the workers and the live tasks are read. */
const POLL_MS = 2000;
/** LIVE_LIMIT: the most queued (and running) tasks asked for. */
const LIVE_LIMIT = 1000;
/** HISTORY_PAGE: tasks per page of the history. */
const HISTORY_PAGE = 100;
/** KEEP_FINISHED: how many tasks that finished while the page was open it keeps showing. */
const KEEP_FINISHED = 20;
const FIELDS = ['state', 'type', 'device', 'cursor'];

type Tab = 'live' | 'history';

/** Filters are the page's URL query: /tasks[?tab=history][&state=][&type=][&device=]. */
interface Filters {
  tab: Tab;
  /** history: '' (any), succeeded, failed or canceled */
  state: string;
  type: string;
  device: string;
}

function filtersOf(q: URLSearchParams): Filters {
  const g = (k: string) => q.get(k) ?? '';
  return {
    tab: g('tab') === 'history' ? 'history' : 'live',
    state: (FINISHED_STATES as string[]).includes(g('state')) ? g('state') : '',
    type: (TASK_TYPES as string[]).includes(g('type')) ? g('type') : '',
    device: g('device'),
  };
}

function tasksURL(f: Filters): string {
  const q = new URLSearchParams();
  if (f.tab === 'history') q.set('tab', 'history');
  if (f.tab === 'history' && f.state) q.set('state', f.state);
  if (f.type) q.set('type', f.type);
  if (f.device.trim()) q.set('device', f.device.trim());
  const s = q.toString();
  return '/tasks' + (s ? '?' + s : '');
}

/**
 * Tasks is the media tasks' page: what waits in each worker group, the
 * workers and their slots, the live tasks (queued and running, read every
 * 2 s, with the ones that finished while the page is open) with Cancel for
 * operators, the history (ClickHouse) of finished ones with their results,
 * and the "New task" form.
 */
export function Tasks(props: { query: URLSearchParams }) {
  const f = filtersOf(props.query);
  const key = tasksURL(f);
  const canAct = may('operator');
  const [workers, setWorkers] = useState<WorkerList | null>(null);
  const [workersErr, setWorkersErr] = useState<unknown>(null);
  const [live, setLive] = useState<Task[] | null>(null);
  const [liveErr, setLiveErr] = useState<unknown>(null);
  const [newOpen, setNewOpen] = useState(false);
  // Tasks followed by id: submitted or canceled here, or seen live and gone since.
  const tracked = useRef(new Map<string, Task>());
  const [, setTrackedN] = useState(0);
  const prevLive = useRef(new Set<string>());
  const [at, setAt] = useState<number | null>(null);

  const track = (t: Task) => {
    tracked.current.set(t.id, t);
    // Keep the newest few that are over.
    const over = [...tracked.current.values()].filter((x) => taskOver(x.state)).sort(byFinished);
    for (const x of over.slice(KEEP_FINISHED)) tracked.current.delete(x.id);
    setTrackedN((n) => n + 1);
  };

  const poll = usePoll(
    async () => {
      const live = f.tab === 'live';
      const [w, q, r] = await Promise.allSettled([
        api.workers(),
        live ? api.listTasks({ state: 'queued', limit: LIVE_LIMIT }) : Promise.resolve(null),
        live ? api.listTasks({ state: 'running', limit: LIVE_LIMIT }) : Promise.resolve(null),
      ]);
      if (w.status === 'fulfilled') {
        setWorkers(w.value);
        setWorkersErr(null);
        setAt(Date.now());
      } else setWorkersErr(w.reason);
      if (!live) return;
      if (q.status === 'rejected' || r.status === 'rejected') {
        setLiveErr(q.status === 'rejected' ? q.reason : (r as PromiseRejectedResult).reason);
        return;
      }
      const items = [...(r.value?.items ?? []), ...(q.value?.items ?? [])];
      const ids = new Set(items.map((t) => t.id));
      // Gone from the live lists: over now (or canceled elsewhere); read each once.
      const gone = new Set<string>();
      for (const id of prevLive.current) if (!ids.has(id)) gone.add(id);
      for (const t of tracked.current.values()) if (!taskOver(t.state) && !ids.has(t.id)) gone.add(t.id);
      for (const t of items) if (tracked.current.has(t.id)) tracked.current.set(t.id, t);
      prevLive.current = ids;
      const read = await Promise.allSettled([...gone].slice(0, KEEP_FINISHED).map((id) => api.getTask(id)));
      for (const x of read) {
        if (x.status === 'fulfilled') track(x.value);
      }
      setLive(items);
      setLiveErr(null);
      setTrackedN((n) => n + 1);
    },
    POLL_MS,
    [f.tab],
  );

  const changed = (t: Task) => {
    track(t);
    if (taskOver(t.state)) setLive((xs) => (xs ?? []).filter((x) => x.id !== t.id));
    poll();
  };

  const liveIds = new Set((live ?? []).map((t) => t.id));
  const pending = [...tracked.current.values()].filter((t) => !taskOver(t.state) && !liveIds.has(t.id));
  const liveRows = live === null ? null : [...live, ...pending];
  const finished = [...tracked.current.values()].filter((t) => taskOver(t.state) && !liveIds.has(t.id)).sort(byFinished);

  return (
    <main class="tasks" data-testid="tasks-page">
      <h1>Tasks</h1>
      <WorkersPanel list={workers} err={workersErr} at={at} />
      <nav class="tabs">
        <button type="button" data-testid="tasks-live-tab" class={f.tab === 'live' ? 'active' : ''} onClick={() => navigate(tasksURL({ ...f, tab: 'live' }))}>
          Live
        </button>
        <button type="button" data-testid="tasks-history-tab" class={f.tab === 'history' ? 'active' : ''} onClick={() => navigate(tasksURL({ ...f, tab: 'history' }))}>
          History
        </button>
        {canAct && (
          <button type="button" class="task-new-open" data-testid="task-new" aria-expanded={newOpen} onClick={() => setNewOpen((o) => !o)}>
            New task
          </button>
        )}
      </nav>
      {canAct && newOpen && (
        <NewTask
          device={f.device}
          onSubmitted={(t) => {
            track(t);
            if (f.tab !== 'live') navigate(tasksURL({ ...f, tab: 'live' }));
            poll();
          }}
          onClose={() => setNewOpen(false)}
        />
      )}
      {f.tab === 'live' ? (
        <>
          <h2>Queued and running</h2>
          <ErrorBox error={liveErr} />
          <TaskTable testid="tasks-live" items={liveRows} canAct={canAct} onChanged={changed} empty="No task is queued or running." />
          <p class="hint">Read every {POLL_MS / 1000} s from the tasks' actors (no ClickHouse needed), oldest first.</p>
          {finished.length > 0 && (
            <>
              <h2>Finished while this page is open</h2>
              <TaskTable testid="tasks-finished" items={finished} canAct={canAct} onChanged={changed} empty="" />
            </>
          )}
        </>
      ) : (
        <History key={key} f={f} canAct={canAct} />
      )}
    </main>
  );
}

const finishedAt = (t: Task) => Date.parse(t.finished_at ?? t.created_at);
const byFinished = (a: Task, b: Task) => finishedAt(b) - finishedAt(a);

function WorkersPanel(props: { list: WorkerList | null; err: unknown; at: number | null }) {
  const ws = props.list?.items ?? [];
  const groups = props.list?.groups ?? [];
  return (
    <section class="panel workers">
      <h2>Worker groups</h2>
      <ErrorBox error={props.err} />
      <table class="tasks-groups" data-testid="tasks-groups">
        <thead>
          <tr>
            <th>Group</th>
            <th>Online waiting</th>
            <th>Offline queue</th>
            <th>Backlog</th>
            <th>Workers</th>
            <th>Slots used</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => {
            const mine = ws.filter((w) => w.group === g.group);
            return (
              <tr key={g.group} data-testid="group-row" data-group={g.group}>
                <td>{g.group}</td>
                <td data-testid="group-online">{g.online_waiting}</td>
                <td data-testid="group-offline">{g.offline_waiting}</td>
                <td data-testid="group-backlog">{g.backlog}</td>
                <td>{mine.length}</td>
                <td>
                  {mine.reduce((n, w) => n + w.running, 0)} / {mine.reduce((n, w) => n + w.slots, 0)}
                </td>
              </tr>
            );
          })}
          {props.list && groups.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">
                No worker group.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <h2>Workers</h2>
      <table class="tasks-workers" data-testid="tasks-workers">
        <thead>
          <tr>
            <th>Worker</th>
            <th>Group</th>
            <th>Host</th>
            <th>Slots used</th>
            <th>Online slots</th>
            <th>Running offline</th>
            <th>Tasks</th>
            <th>Done</th>
            <th>Seen</th>
          </tr>
        </thead>
        <tbody>
          {ws.map((w) => (
            <tr key={w.id} data-testid="worker-row" data-worker-id={w.id} data-group={w.group} data-slots={w.slots} data-running={w.running}>
              <td>
                <code>{w.id}</code>
              </td>
              <td>{w.group}</td>
              <td>{w.host || '—'}</td>
              <td data-testid="worker-slots">
                <meter min={0} max={Math.max(1, w.slots)} value={w.running} /> {w.running} / {w.slots}
              </td>
              <td>{w.online_slots}</td>
              <td>{w.running_offline}</td>
              <td class="worker-tasks">
                {w.tasks.length
                  ? w.tasks.map((id) => (
                      <code key={id} data-testid="worker-task">
                        {id}
                      </code>
                    ))
                  : '—'}
              </td>
              <td>{w.done}</td>
              <td title={`started ${stamp(Date.parse(w.started_at))}`}>{stamp(Date.parse(w.updated_at))}</td>
            </tr>
          ))}
          {props.list && ws.length === 0 && (
            <tr>
              <td colSpan={9} class="empty">
                No worker is registered: tasks wait until one starts (`argus worker`, or a node with --worker-slots).
              </td>
            </tr>
          )}
          {!props.list && !props.err && (
            <tr>
              <td colSpan={9} class="empty">
                loading…
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {props.at && <p class="hint">as of {stamp(props.at)}, read every {POLL_MS / 1000} s</p>}
    </section>
  );
}

function History(props: { f: Filters; canAct: boolean }) {
  const [items, setItems] = useState<Task[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [down, setDown] = useState<ApiError | null>(null);
  const [errors, setErrors] = useState<Errors>({});

  const load = async (cursor: string | null) => {
    setBusy(true);
    try {
      const q: TaskQuery = { state: props.f.state, type: props.f.type, device: props.f.device.trim(), limit: HISTORY_PAGE, cursor: cursor ?? undefined };
      const p = await api.listTasks(q);
      setItems((xs) => (cursor && xs ? [...xs, ...p.items] : p.items));
      setNext(p.next_cursor);
      setErr(null);
      setDown(null);
      setErrors({});
    } catch (e) {
      if (e instanceof ApiError && e.status === 503) setDown(e);
      else if (e instanceof ApiError && e.status === 400) {
        setErrors({ [FIELDS.includes(e.field) ? e.field : 'form']: e.detail || e.title });
        setItems([]);
      } else setErr(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    load(null);
  }, []);

  const changed = (t: Task) => setItems((xs) => (xs ?? []).map((x) => (x.id === t.id ? t : x)));

  return (
    <>
      <HistoryFilters f={props.f} errors={errors} />
      {down ? (
        <div class="tasks-unavailable" role="status" data-testid="tasks-unavailable">
          <strong>The task history is not available.</strong>
          <p>{down.detail || down.title}</p>
          <p class="hint">
            It is kept in ClickHouse; queued and running tasks are served without it (the Live tab).{' '}
            <button type="button" disabled={busy} onClick={() => load(null)}>
              Try again
            </button>
          </p>
        </div>
      ) : (
        <>
          <ErrorBox error={err} />
          <TaskTable testid="tasks-history" items={items} canAct={props.canAct} onChanged={changed} empty="No tasks." />
          <nav class="pager">
            <button type="button" data-testid="tasks-more" disabled={busy || !next} onClick={() => next && load(next)}>
              {busy ? 'Loading…' : next ? 'Load more' : 'No more tasks'}
            </button>
            <button type="button" data-testid="tasks-refresh" disabled={busy} onClick={() => load(null)}>
              Refresh
            </button>
          </nav>
          <p class="hint">From ClickHouse, newest first.</p>
        </>
      )}
    </>
  );
}

function HistoryFilters(props: { f: Filters; errors: Errors }) {
  const [v, setV] = useState(props.f);
  const key = tasksURL(props.f);
  useEffect(() => setV(props.f), [key]);
  const cls = (k: string) => (props.errors[k] ? 'field invalid' : 'field');
  return (
    <form
      class="tasks-filters"
      data-testid="tasks-filters"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(tasksURL({ ...v, tab: 'history' }));
      }}
    >
      <div class={cls('state')}>
        <label for="tasks-state">State</label>
        <select id="tasks-state" data-testid="tasks-state" value={v.state} onChange={(e) => setV({ ...v, state: (e.target as HTMLSelectElement).value })}>
          <option value="">any</option>
          {FINISHED_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <FieldError errors={props.errors} field="state" />
      </div>
      <div class={cls('type')}>
        <label for="tasks-type">Type</label>
        <select id="tasks-type" value={v.type} onChange={(e) => setV({ ...v, type: (e.target as HTMLSelectElement).value })}>
          <option value="">any</option>
          {TASK_TYPES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <FieldError errors={props.errors} field="type" />
      </div>
      <TextField id="tasks-device" name="device" label="Device" placeholder="any" value={v.device} errors={props.errors} onInput={(x) => setV({ ...v, device: x })} />
      <div class="tasks-filter-actions">
        <button type="submit">Apply</button>
        <button type="button" onClick={() => navigate(tasksURL({ tab: 'history', state: '', type: '', device: '' }))}>
          Clear
        </button>
      </div>
      <FieldError errors={props.errors} field="form" />
      <FieldError errors={props.errors} field="cursor" />
    </form>
  );
}

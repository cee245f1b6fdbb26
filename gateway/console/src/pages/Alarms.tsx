import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, may, SEVERITIES, type Alarm, type AlarmQuery } from '../api';
import { ErrorBox } from '../components';
import { FieldError, TextField, type Errors } from '../forms';
import { navigate } from '../router';
import { localInput, parseLocalInput } from './device/time';
import { AlarmRow, columns } from './alarms/AlarmRow';
import { OPEN_LIMIT, POLL_MS } from './alarms/Badge';
import { usePoll } from './alarms/poll';
import './alarms/alarms.css';

// Alarm types the system raises (the schema's examples), offered as
// suggestions; the server checks whatever is typed.
const TYPES = ['motion', 'tamper', 'input', 'offline', 'recording', 'storage'];
/** HISTORY_PAGE: alarms per page of the history. */
const HISTORY_PAGE = 100;
const REFUSED = 'The server refused these filters (see above).';
const FIELDS = ['device', 'type', 'severity', 'state', 'from', 'to'];

type Tab = 'open' | 'history';

/** Filters are the page's URL query: /alarms[?tab=history][&device=][&type=][&severity=][&state=any][&from=][&to=]. */
interface Filters {
  tab: Tab;
  device: string;
  type: string;
  severity: string;
  /** history only: '' = cleared, 'any' = every state */
  state: string;
  /** history only, RFC 3339 */
  from: string;
  to: string;
}

function filtersOf(q: URLSearchParams): Filters {
  const g = (k: string) => q.get(k) ?? '';
  return {
    tab: g('tab') === 'history' ? 'history' : 'open',
    device: g('device'),
    type: g('type'),
    severity: SEVERITIES.includes(g('severity')) ? g('severity') : '',
    state: g('state') === 'any' ? 'any' : '',
    from: g('from'),
    to: g('to'),
  };
}

/** alarmsURL is the page's deep link for f (only what is set; history's own filters only there). */
function alarmsURL(f: Filters): string {
  const q = new URLSearchParams();
  if (f.tab === 'history') q.set('tab', 'history');
  for (const k of ['device', 'type', 'severity'] as const) if (f[k].trim()) q.set(k, f[k].trim());
  if (f.tab === 'history') for (const k of ['state', 'from', 'to'] as const) if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return '/alarms' + (s ? '?' + s : '');
}

/** query is the list request of f. */
function query(f: Filters): AlarmQuery {
  const q: AlarmQuery = { device: f.device, type: f.type, severity: f.severity };
  if (f.tab === 'open') return { ...q, state: 'open', limit: OPEN_LIMIT };
  return { ...q, state: f.state === 'any' ? undefined : 'cleared', from: f.from, to: f.to, limit: HISTORY_PAGE };
}

const newestFirst = (xs: Alarm[]) => [...xs].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at) || (a.id < b.id ? -1 : 1));

/**
 * Alarms is the alarms page: the open alarms (from the actors, read every
 * 5 s) with Ack and Clear for operators, and the history (ClickHouse) of
 * cleared ones or of every state in a time range. Filters are in the URL.
 */
export function Alarms(props: { query: URLSearchParams }) {
  const f = filtersOf(props.query);
  const key = alarmsURL(f);
  const [problem, setProblem] = useState<ApiError | null>(null);

  useEffect(() => setProblem(null), [key]);

  const fieldErr: Errors = problem && problem.status === 400 ? { [FIELDS.includes(problem.field) ? problem.field : 'form']: problem.detail || problem.title } : {};

  return (
    <main class="alarms">
      <h1>Alarms</h1>
      <nav class="tabs">
        <button type="button" data-testid="alarm-open-tab" class={f.tab === 'open' ? 'active' : ''} onClick={() => navigate(alarmsURL({ ...f, tab: 'open' }))}>
          Open
        </button>
        <button type="button" data-testid="alarm-history-tab" class={f.tab === 'history' ? 'active' : ''} onClick={() => navigate(alarmsURL({ ...f, tab: 'history' }))}>
          History
        </button>
      </nav>
      <FilterForm filters={f} errors={fieldErr} onApply={(nf) => navigate(alarmsURL(nf))} />
      {f.tab === 'open' ? <OpenAlarms key={key} f={f} onProblem={setProblem} /> : <History key={key} f={f} onProblem={setProblem} />}
    </main>
  );
}

/** onProblem gets a refused filter (400, shown at its field) or null after a good answer. */
interface ListProps {
  f: Filters;
  onProblem: (e: ApiError | null) => void;
}

function OpenAlarms(props: ListProps) {
  const [items, setItems] = useState<Alarm[] | null>(null);
  const [more, setMore] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [refused, setRefused] = useState(false);

  usePoll(
    async () => {
      try {
        const p = await api.listAlarms(query(props.f));
        setItems(newestFirst(p.items));
        setMore(p.next_cursor !== null);
        setErr(null);
        setRefused(false);
        props.onProblem(null);
      } catch (e) {
        if (e instanceof ApiError && e.status === 400) {
          props.onProblem(e);
          setRefused(true);
          setItems([]);
        } else setErr(e);
      }
    },
    POLL_MS,
    [],
  );

  // An acknowledged alarm stays; a cleared one leaves the open list.
  const changed = (a: Alarm) => setItems((xs) => (xs ?? []).flatMap((x) => (x.id !== a.id ? [x] : a.state === 'cleared' ? [] : [a])));

  return (
    <>
      <ErrorBox error={err} />
      <AlarmTable items={items} canAct={may('operator')} onChanged={changed} empty={refused ? REFUSED : 'No open alarms.'} />
      <p class="hint">
        Open alarms (raised or acknowledged) as their actors hold them, read every {POLL_MS / 1000} s{more && `; the newest ${OPEN_LIMIT} shown`}.
      </p>
    </>
  );
}

function History(props: ListProps) {
  const [items, setItems] = useState<Alarm[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [down, setDown] = useState<ApiError | null>(null);
  const [refused, setRefused] = useState(false);

  const load = async (cursor: string | null) => {
    setBusy(true);
    try {
      const p = await api.listAlarms({ ...query(props.f), cursor: cursor ?? undefined });
      setItems((xs) => (cursor && xs ? [...xs, ...p.items] : p.items));
      setNext(p.next_cursor);
      setErr(null);
      setDown(null);
      setRefused(false);
      props.onProblem(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 503) setDown(e);
      else if (e instanceof ApiError && e.status === 400) {
        props.onProblem(e);
        setRefused(true);
        setItems([]);
      } else setErr(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    load(null);
  }, []);

  // Rows acted on here (an open alarm in "any state") show the answer.
  const changed = (a: Alarm) => setItems((xs) => (xs ?? []).map((x) => (x.id === a.id ? a : x)));

  if (down) {
    return (
      <div class="alarms-unavailable" role="status" data-testid="alarms-unavailable">
        <strong>The alarm history is not available.</strong>
        <p>{down.detail || down.title}</p>
        <p class="hint">
          It is kept in ClickHouse; the open alarms are served without it (the Open tab).{' '}
          <button type="button" disabled={busy} onClick={() => load(null)}>
            Try again
          </button>
        </p>
      </div>
    );
  }
  return (
    <>
      <ErrorBox error={err} />
      <AlarmTable items={items} canAct={may('operator')} onChanged={changed} empty={refused ? REFUSED : props.f.state === 'any' ? 'No alarms.' : 'No cleared alarms.'} />
      <nav class="pager">
        <button type="button" data-testid="alarms-more" disabled={busy || !next} onClick={() => next && load(next)}>
          {busy ? 'Loading…' : next ? 'Load more' : 'No more alarms'}
        </button>
        <button type="button" disabled={busy} onClick={() => load(null)}>
          Refresh
        </button>
      </nav>
    </>
  );
}

function AlarmTable(props: { items: Alarm[] | null; canAct: boolean; onChanged: (a: Alarm) => void; empty: string }) {
  return (
    <table class="alarms-table" data-testid="alarms-table">
      <thead>
        <tr>
          <th />
          <th>Severity</th>
          <th>Type</th>
          <th>Device</th>
          <th>Ch</th>
          <th>Count</th>
          <th>Raised</th>
          <th>Last</th>
          <th>State</th>
          <th>Active</th>
          {props.canAct && <th />}
        </tr>
      </thead>
      <tbody>
        {(props.items ?? []).map((a) => (
          <AlarmRow key={a.id} a={a} canAct={props.canAct} onChanged={props.onChanged} />
        ))}
        {props.items !== null && props.items.length === 0 && (
          <tr>
            <td colSpan={columns(props.canAct)} class="empty" data-testid="alarms-empty">
              {props.empty}
            </td>
          </tr>
        )}
        {props.items === null && (
          <tr>
            <td colSpan={columns(props.canAct)} class="empty">
              loading…
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function FilterForm(props: { filters: Filters; errors: Errors; onApply: (f: Filters) => void }) {
  const toForm = (f: Filters) => ({ ...f, from: f.from ? localInput(Date.parse(f.from)) : '', to: f.to ? localInput(Date.parse(f.to)) : '' });
  const [v, setV] = useState(() => toForm(props.filters));
  const key = alarmsURL(props.filters);
  // Back/forward or a link changed the URL: show its filters.
  useEffect(() => setV(toForm(props.filters)), [key]);
  const history = props.filters.tab === 'history';
  const set = (k: keyof Filters) => (e: Event) => setV({ ...v, [k]: (e.target as HTMLInputElement).value });
  const cls = (k: string) => (props.errors[k] ? 'field invalid' : 'field');
  const rfc = (s: string) => {
    const t = parseLocalInput(s);
    return t === null ? '' : new Date(t).toISOString();
  };

  return (
    <form
      class="alarms-filters"
      data-testid="alarms-filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply({ ...v, tab: props.filters.tab, from: history ? rfc(v.from) : '', to: history ? rfc(v.to) : '' });
      }}
    >
      <TextField id="alarms-device" name="device" label="Device" placeholder="any" value={v.device} errors={props.errors} onInput={(x) => setV({ ...v, device: x })} />
      <TextField id="alarms-type" name="type" label="Type" placeholder="any" list="alarm-types" value={v.type} errors={props.errors} onInput={(x) => setV({ ...v, type: x })} />
      <datalist id="alarm-types">
        {TYPES.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <div class={cls('severity')}>
        <label for="alarms-severity">Severity</label>
        <select id="alarms-severity" value={v.severity} onChange={set('severity')}>
          <option value="">any</option>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <FieldError errors={props.errors} field="severity" />
      </div>
      {history && (
        <>
          <div class={cls('state')}>
            <label for="alarms-state">State</label>
            <select id="alarms-state" value={v.state} onChange={set('state')}>
              <option value="">cleared</option>
              <option value="any">any</option>
            </select>
            <FieldError errors={props.errors} field="state" />
          </div>
          <div class={cls('from')}>
            <label for="alarms-from">Raised from</label>
            <input id="alarms-from" type="datetime-local" step={1} value={v.from} onInput={set('from')} />
            <FieldError errors={props.errors} field="from" />
          </div>
          <div class={cls('to')}>
            <label for="alarms-to">until</label>
            <input id="alarms-to" type="datetime-local" step={1} value={v.to} onInput={set('to')} />
            <FieldError errors={props.errors} field="to" />
          </div>
        </>
      )}
      <div class="alarms-filter-actions">
        <button type="submit" data-testid="alarms-filter-apply">
          Apply
        </button>
        <button type="button" onClick={() => props.onApply({ tab: props.filters.tab, device: '', type: '', severity: '', state: '', from: '', to: '' })}>
          Clear
        </button>
      </div>
      <FieldError errors={props.errors} field="form" />
    </form>
  );
}

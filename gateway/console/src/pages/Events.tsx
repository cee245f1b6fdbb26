import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, session, type EventItem } from '../api';
import { Link } from '../components';
import { navigate } from '../router';
import { follow, type FeedState } from './feed/follow';
import './events.css';

/** KEEP is how many events the feed holds; older ones fall off the end. */
const KEEP = 500;
// Events arriving within this window are rendered together: a replay sends
// thousands per second, and one render per chunk would stall the page.
const FLUSH_MS = 200;

const KINDS = ['device', 'stream', 'plan', 'shard', 'view', 'alarm', 'webhook'];
// The event types of the schema (the payload oneof of events/pb/argus.proto),
// offered as suggestions; the server checks whatever is typed.
const TYPES = [
  'device.registered',
  'device.updated',
  'device.credentials_changed',
  'device.removed',
  'device.online',
  'device.offline',
  'stream.started',
  'stream.stopped',
  'stream.failed',
  'plan.set',
  'plan.recording_started',
  'plan.recording_stopped',
  'plan.segment_recorded',
  'plan.segment_deleted',
  'shard.acquired',
  'shard.released',
  'stream.viewed',
  'recording.viewed',
];
const FIELDS = ['type', 'kind', 'aggregate', 'from'];

interface Filters {
  type: string;
  kind: string;
  aggregate: string;
  from: string; // RFC 3339, as in the URL
}

function filtersOf(q: URLSearchParams): Filters {
  return { type: q.get('type') ?? '', kind: q.get('kind') ?? '', aggregate: q.get('aggregate') ?? '', from: q.get('from') ?? '' };
}

/** streamQuery is the stream's query: only the filters that are set. */
function streamQuery(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of FIELDS) {
    const v = f[k as keyof Filters].trim();
    if (v) q.set(k, v);
  }
  return q;
}

/**
 * RECENT: without "replay from", the stream starts among the log's last
 * RECENT events (?last=), not at its beginning, which may be months away.
 */
const RECENT = 1000;

/** feedQuery is what the stream is opened with: the filters, and ?last= without a from. */
function feedQuery(f: Filters): URLSearchParams {
  const q = streamQuery(f);
  if (!q.has('from')) q.set('last', String(RECENT));
  return q;
}

/** eventsURL is the page's deep link for filters. */
function eventsURL(f: Filters): string {
  const s = streamQuery(f).toString();
  return '/events' + (s ? '?' + s : '');
}

/**
 * Events is the live event feed: GET /v1/events/stream read with fetch (the
 * key goes in a header, never the URL), newest first. The filters live in
 * the URL; a new set of filters starts a fresh stream.
 */
export function Events(props: { query: URLSearchParams }) {
  const f = filtersOf(props.query);
  const key = eventsURL(f);
  const [items, setItems] = useState<EventItem[]>([]);
  const [received, setReceived] = useState(0);
  const [state, setState] = useState<FeedState>('reconnecting');
  const [note, setNote] = useState('connecting…');
  const [paused, setPaused] = useState(false);
  const [problem, setProblem] = useState<ApiError | null>(null);
  // The last seq shown: where a resume (after pause) picks up.
  const last = useRef(0);

  // New filters: a new feed.
  useEffect(() => {
    last.current = 0;
    setItems([]);
    setReceived(0);
    setProblem(null);
  }, [key]);

  useEffect(() => {
    if (paused) {
      setState('paused');
      return;
    }
    // pending holds the newest KEEP of what arrived since the last render;
    // count says how many arrived, kept or not.
    let pending: EventItem[] = [];
    let count = 0;
    let timer: number | undefined;
    const flush = () => {
      timer = undefined;
      const batch = pending.reverse();
      const n = count;
      pending = [];
      count = 0;
      setItems((xs) => (batch.length >= KEEP ? batch : [...batch, ...xs].slice(0, KEEP)));
      setReceived((r) => r + n);
    };
    setState('reconnecting');
    setNote('connecting…');
    const stop = follow({
      query: feedQuery(f),
      afterSeq: last.current,
      onEvents(batch) {
        last.current = batch[batch.length - 1].seq;
        count += batch.length;
        pending.push(...batch);
        if (pending.length > KEEP) pending = pending.slice(-KEEP);
        timer ??= window.setTimeout(flush, FLUSH_MS);
      },
      onState(s, why) {
        setState(s);
        setNote(why);
        if (s === 'live') setProblem(null);
      },
      onFatal(e) {
        if (e.status === 401) {
          // The key is gone (deleted, or the server forgot it): sign in again.
          session.clear();
          navigate('/login?next=' + encodeURIComponent(key), true);
          return;
        }
        // Retrying cannot help (400: the filters): wait for new filters or Resume.
        setProblem(e);
        setPaused(true);
      },
    });
    return () => {
      stop();
      if (timer !== undefined) {
        clearTimeout(timer);
        flush();
      }
    };
  }, [key, paused]);

  const fieldErr = problem && FIELDS.includes(problem.field) ? problem.field : problem ? 'form' : '';

  return (
    <main class="feed">
      <h1>Events</h1>
      <FilterForm
        filters={f}
        error={problem ? { field: fieldErr, text: problem.detail || problem.title } : null}
        onApply={(nf) => {
          setPaused(false);
          navigate(eventsURL(nf));
        }}
      />
      <div class="feed-bar">
        <span class={'feed-state feed-' + state} data-testid="feed-state">
          {state}
        </span>
        <span class="hint">{paused ? (problem ? 'the server refused this feed' : 'Resume catches up from the last event shown') : note}</span>
        <span class="feed-count">
          {items.length < received ? `newest ${items.length} of ${received} received` : `${items.length} received`}
        </span>
        <button type="button" data-testid="feed-pause" onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <ol class="feed-list">
        {items.map((e) => (
          <FeedItem key={e.seq} e={e} />
        ))}
      </ol>
      {items.length === 0 && !problem && (
        <p class="empty">{state === 'live' ? 'No events yet: new ones appear here as they happen.' : 'No events.'}</p>
      )}
    </main>
  );
}

function FilterForm(props: { filters: Filters; error: { field: string; text: string } | null; onApply: (f: Filters) => void }) {
  const [v, setV] = useState({ ...props.filters, from: toLocalInput(props.filters.from) });
  const key = eventsURL(props.filters);
  // Back/forward or a link changed the URL: show its filters.
  useEffect(() => setV({ ...props.filters, from: toLocalInput(props.filters.from) }), [key]);

  const set = (k: keyof Filters) => (e: Event) => setV({ ...v, [k]: (e.target as HTMLInputElement).value });
  const err = (k: string) =>
    props.error?.field === k && (
      <span class="field-error" data-testid="field-error" data-field={k}>
        {props.error.text}
      </span>
    );
  const cls = (k: string) => (props.error?.field === k ? 'field invalid' : 'field');

  return (
    <form
      class="feed-filters"
      onSubmit={(e) => {
        e.preventDefault();
        // The picked local time goes into the URL as RFC 3339 (UTC).
        const from = v.from ? fromLocalInput(v.from) : '';
        props.onApply({ ...v, from });
      }}
    >
      <div class={cls('type')}>
        <label for="feed-type">Type</label>
        <input id="feed-type" list="feed-types" placeholder="any, e.g. device.online" value={v.type} onInput={set('type')} autocomplete="off" />
        <datalist id="feed-types">
          {TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        {err('type')}
      </div>
      <div class={cls('kind')}>
        <label for="feed-kind">Kind</label>
        <select id="feed-kind" value={v.kind} onChange={set('kind')}>
          <option value="">any</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        {err('kind')}
      </div>
      <div class={cls('aggregate')}>
        <label for="feed-aggregate">Device / aggregate</label>
        <input id="feed-aggregate" placeholder="cam1, cam1~2 or a shard" value={v.aggregate} onInput={set('aggregate')} autocomplete="off" />
        {err('aggregate')}
      </div>
      <div class={cls('from')}>
        <label for="feed-from">Replay from</label>
        <input id="feed-from" type="datetime-local" step={1} value={v.from} onInput={set('from')} />
        {err('from')}
      </div>
      <div class="feed-actions">
        <button type="submit">Apply</button>
        <button type="button" onClick={() => props.onApply({ type: '', kind: '', aggregate: '', from: '' })}>
          Clear
        </button>
      </div>
      {props.error?.field === 'form' && (
        <p class="field-error" data-testid="field-error" data-field="form">
          {props.error.text}
        </p>
      )}
      <p class="hint feed-hint">
        Without “replay from” the feed starts among the log’s last {RECENT} events; it keeps the newest {KEEP}.
        Device and aggregate need a kind (or a type, which implies one).
      </p>
    </form>
  );
}

function FeedItem(props: { e: EventItem }) {
  const e = props.e;
  const full = JSON.stringify(e.data, null, 2) ?? '';
  const short = summarize(e.data);
  return (
    <li data-testid="event-item" data-seq={e.seq} data-type={e.type}>
      <span class="seq">#{e.seq}</span>
      <time dateTime={e.time}>{new Date(e.time).toLocaleString()}</time>
      <strong class="type">{e.type}</strong>
      <Aggregate kind={e.kind} id={e.aggregate} />
      <span class="node" title="node that wrote it">
        {e.node}
      </span>
      {full.includes('\n') ? (
        <details>
          <summary>
            <code>{short}</code>
          </summary>
          <pre>{full}</pre>
        </details>
      ) : (
        <code>{short}</code>
      )}
    </li>
  );
}

/** Aggregate links a device, or a device channel ("cam1~2"), to its page. */
function Aggregate(props: { kind: string; id: string }) {
  const { kind, id } = props;
  if (kind === 'device') {
    return (
      <span class="agg">
        <Link to={'/devices/' + encodeURIComponent(id)}>{id}</Link>
      </span>
    );
  }
  const m = /^(.+)~([0-9]+)$/.exec(id);
  if (m && (kind === 'stream' || kind === 'plan' || kind === 'view')) {
    const ch = Number(m[2]);
    return (
      <span class="agg">
        <Link to={'/devices/' + encodeURIComponent(m[1]) + (ch > 1 ? '?ch=' + ch : '')}>{id}</Link>
      </span>
    );
  }
  return (
    <span class="agg">
      {kind} {id}
    </span>
  );
}

function summarize(data: unknown): string {
  if (data === null || data === undefined) return '';
  const s = JSON.stringify(data);
  return s.length > 120 ? s.slice(0, 117) + '…' : s;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** toLocalInput turns an RFC 3339 time into a datetime-local value. */
function toLocalInput(rfc: string): string {
  if (!rfc) return '';
  const d = new Date(rfc);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** fromLocalInput turns a datetime-local value (local time) into RFC 3339. */
function fromLocalInput(v: string): string {
  const d = new Date(v); // a date-time without offset is local time
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

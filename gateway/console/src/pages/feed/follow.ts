// follow reads GET /v1/events/stream with fetch (EventSource cannot send
// the Bearer key) and keeps it open: after a drop it reconnects with
// Last-Event-ID, so the server resumes right after the last event seen,
// backing off 1 s, 2 s, 4 s … 30 s while the server stays away.
import { ApiError, session, type EventItem } from '../../api';
import { SSEParser } from './sse';

export type FeedState = 'live' | 'reconnecting' | 'paused';

export interface FollowOptions {
  /** the stream's filters: type, kind, aggregate, from */
  query: URLSearchParams;
  /** resume after this seq (0: whatever the query selects) */
  afterSeq: number;
  /** events in seq order, a chunk of the stream at a time */
  onEvents(items: EventItem[]): void;
  /** live once a stream is open; reconnecting (with why) between tries */
  onState(state: 'live' | 'reconnecting', note: string): void;
  /** an answer retrying cannot fix (400, 401, 403, 404): following stops */
  onFatal(e: ApiError): void;
}

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;
// The server writes a comment every 15 s: three missed ones mean a dead
// connection that TCP has not noticed (a sleeping laptop, a dropped NAT entry).
const SILENCE = 45000;
// A connection that lasted this long was a good one: the next drop starts
// the backoff again from 1 s.
const HEALTHY = 10000;

/** Refused is a non-2xx answer with its Retry-After (ms, 0 when none). */
class Refused extends ApiError {
  retryAfterMs = 0;
}

/** follow starts following and returns the function that stops it. */
export function follow(o: FollowOptions): () => void {
  const stop = new AbortController();
  run(o, stop.signal);
  return () => stop.abort();
}

async function run(o: FollowOptions, signal: AbortSignal) {
  let last = o.afterSeq;
  let failures = 0;
  let serverRetry = 0; // the stream's "retry:" field, when it sent one
  const path = '/v1/events/stream' + (o.query.size ? '?' + o.query : '');
  while (!signal.aborted) {
    const began = Date.now();
    let delivered = false;
    let why: string;
    let wait = 0;
    try {
      const r = await once(path, last, signal, o, (items) => {
        delivered = true;
        last = items[items.length - 1].seq;
        o.onEvents(items);
      });
      if (r.retry !== null) serverRetry = r.retry;
      why = 'the server ended the stream';
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError) {
        if (e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
          o.onFatal(e);
          return;
        }
        wait = e instanceof Refused ? e.retryAfterMs : 0;
        why = `${e.status} ${e.detail || e.title}`;
      } else {
        why = e instanceof Error ? e.message : String(e);
      }
    }
    if (delivered || Date.now() - began >= HEALTHY) failures = 0;
    const delay = Math.max(wait, serverRetry, Math.min(MAX_DELAY, MIN_DELAY * 2 ** failures));
    failures++;
    o.onState('reconnecting', `${why}; retrying in ${Math.round(delay / 1000)} s`);
    await sleep(delay, signal);
  }
}

/**
 * once holds one connection until it ends: it throws ApiError for a non-2xx
 * answer, any other error for a network failure or a silent connection.
 */
async function once(
  path: string,
  after: number,
  signal: AbortSignal,
  o: FollowOptions,
  deliver: (items: EventItem[]) => void,
): Promise<{ retry: number | null }> {
  const conn = new AbortController();
  const abort = () => conn.abort();
  signal.addEventListener('abort', abort);
  let silent = false;
  let timer = 0;
  const alive = () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      silent = true;
      conn.abort();
    }, SILENCE);
  };
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  const key = session.key();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (after > 0) headers['Last-Event-ID'] = String(after);
  try {
    alive();
    const resp = await fetch(path, { headers, signal: conn.signal, cache: 'no-store', credentials: 'omit' });
    if (!resp.ok) throw await problemOf(resp);
    if (!resp.body || !(resp.headers.get('Content-Type') ?? '').startsWith('text/event-stream')) {
      throw new Error('the answer is not an event stream');
    }
    o.onState('live', '');
    const parser = new SSEParser();
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let seen = after;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      alive();
      const batch: EventItem[] = [];
      parser.push(value, (m) => {
        let it: EventItem;
        try {
          it = JSON.parse(m.data) as EventItem;
        } catch {
          return; // not an event of ours: skip it rather than drop the stream
        }
        // Never repeat or go backwards, whatever a proxy replays.
        if (typeof it.seq !== 'number' || it.seq <= seen) return;
        seen = it.seq;
        batch.push(it);
      });
      if (batch.length) deliver(batch);
    }
    return { retry: parser.retry };
  } catch (e) {
    if (silent) throw new Error(`no data for ${SILENCE / 1000} s`);
    throw e;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

/** problemOf reads a problem+json answer as an ApiError. */
async function problemOf(resp: Response): Promise<Refused> {
  let p: { title?: string; detail?: string; field?: string } = {};
  try {
    p = JSON.parse(await resp.text());
  } catch {
    // not JSON: the status says enough
  }
  const e = new Refused(resp.status, p.title ?? resp.statusText, p.detail ?? '', p.field ?? '');
  const s = Number(resp.headers.get('Retry-After'));
  if (Number.isFinite(s) && s > 0) e.retryAfterMs = Math.min(2 * MAX_DELAY, s * 1000);
  return e;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

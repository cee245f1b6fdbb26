import { useEffect, useState } from 'preact/hooks';
import { ApiError, may, request } from '../api';
import { ErrorBox } from '../components';
import './cluster.css';

// Types of GET /v1/cluster, /v1/streams and /v1/projections (openapi.json:
// Cluster, StreamList, ProjectorList).
interface NodeStatus {
  id: string;
  advertise: string;
  http: string;
  rtsp: string;
  heartbeat_age_ms: number;
  shards: number;
  actors: number;
  leaving?: boolean;
}

interface ShardStatus {
  id: number;
  owner: string; // "" while it has none (failover in progress)
  since: string | null;
}

interface ClusterStatus {
  nodes: NodeStatus[];
  shards: ShardStatus[];
}

interface StreamList {
  items: { device: string; channel: number; node: string }[];
  incomplete?: string[];
}

interface RebuildProgress {
  state: 'running' | 'done' | 'failed';
  phase: string;
  database: string;
  done: number;
  total: number;
  events_per_sec: number;
  eta_seconds: number;
  started_at: string;
  finished_at?: string;
  error?: string;
}

interface Projector {
  name: string;
  tables: string[];
  lag: number;
  last_seq: number;
  rebuild?: RebuildProgress;
}

const POLL_MS = 2000;
// Projections are asked less often unless a rebuild runs: each answer costs
// the node running them a consumer lookup per projector.
const PROJ_IDLE_MS = 10000;

/** poll calls f now and then every ms after each answer, while the tab is visible. */
function usePoll(f: () => Promise<void>, ms: () => number, deps: unknown[]) {
  useEffect(() => {
    let stopped = false;
    let t: number | undefined;
    const tick = async () => {
      if (!document.hidden) await f().catch(() => {});
      if (!stopped) t = window.setTimeout(tick, ms());
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(t);
    };
  }, deps);
}

/**
 * Cluster shows the nodes and the shard owners as the node that answers
 * sees them, refreshed every 2 s; admins also see the ClickHouse projections.
 */
export function Cluster(_props: { query: URLSearchParams }) {
  const [status, setStatus] = useState<ClusterStatus | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [streams, setStreams] = useState<StreamList | null>(null);
  const [streamsErr, setStreamsErr] = useState<unknown>(null);
  const [at, setAt] = useState<Date | null>(null);

  usePoll(
    async () => {
      // Both at once; one failing does not hide the other.
      const [c, s] = await Promise.allSettled([
        request<ClusterStatus>('GET', '/v1/cluster'),
        request<StreamList>('GET', '/v1/streams?scope=cluster'),
      ]);
      if (c.status === 'fulfilled') {
        setStatus(c.value);
        setErr(null);
        setAt(new Date());
      } else {
        setErr(c.reason);
        // Without a cluster there is nothing stale worth showing.
        if (c.reason instanceof ApiError && c.reason.status === 503) setStatus(null);
      }
      if (s.status === 'fulfilled') {
        setStreams(s.value);
        setStreamsErr(null);
      } else setStreamsErr(s.reason);
    },
    () => POLL_MS,
    [],
  );

  const noCluster = err instanceof ApiError && err.status === 503;
  const owners = status ? ownersOf(status) : [];
  const color = (id: string) => PALETTE[owners.indexOf(id) % PALETTE.length];
  const perNode = new Map<string, number>();
  for (const s of streams?.items ?? []) perNode.set(s.node, (perNode.get(s.node) ?? 0) + 1);

  return (
    <main class="cluster">
      <h1>Cluster</h1>
      {noCluster ? (
        <p class="notice" role="status">
          No cluster view: {err.detail || err.title}.
        </p>
      ) : (
        <ErrorBox error={err} />
      )}
      {status && (
        <>
          <p class="hint">
            As the node answering this console sees it
            {at && <> · updated {at.toLocaleTimeString()}</>}
            {err ? ' · stale: the last refresh failed' : ''}
          </p>
          <table class="cluster-nodes">
            <thead>
              <tr>
                <th>Node</th>
                <th>Heartbeat</th>
                <th>Shards</th>
                <th>Actors</th>
                <th>Streams</th>
                <th>State</th>
                <th>HTTP</th>
                <th>RTSP</th>
              </tr>
            </thead>
            <tbody>
              {status.nodes.map((n) => (
                <tr key={n.id} data-testid="cluster-node" data-node-id={n.id}>
                  <td>
                    <span class="swatch" style={{ background: color(n.id) }} /> {n.id}
                  </td>
                  <td title={`${n.heartbeat_age_ms} ms ago`}>{age(n.heartbeat_age_ms)} ago</td>
                  <td>{n.shards}</td>
                  <td>{n.actors}</td>
                  <td title={streams?.incomplete?.includes(n.id) ? 'this node did not answer' : undefined}>
                    {streams ? (streams.incomplete?.includes(n.id) ? '?' : (perNode.get(n.id) ?? 0)) : '…'}
                  </td>
                  <td>{n.leaving ? <span class="leaving">leaving</span> : 'member'}</td>
                  <td>
                    <code>{n.http || '—'}</code>
                  </td>
                  <td>
                    <code>{n.rtsp || '—'}</code>
                  </td>
                </tr>
              ))}
              {status.nodes.length === 0 && (
                <tr>
                  <td colSpan={8} class="empty">
                    No live nodes.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          {streamsErr ? (
            <p class="hint">Stream counts are unavailable: {streamsErr instanceof Error ? streamsErr.message : String(streamsErr)}</p>
          ) : streams?.incomplete?.length ? (
            <p class="hint">Streams of {streams.incomplete.join(', ')} are missing: they did not answer.</p>
          ) : null}
          <ShardMap shards={status.shards} owners={owners} color={color} />
        </>
      )}
      {may('admin') && <Projections />}
    </main>
  );
}

// Owner colors: distinct at a glance, readable with white digits.
const PALETTE = ['#2457c5', '#17803d', '#b45309', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#9a3412', '#475569', '#a16207'];

/** ownersOf lists the live nodes, then any other shard owner, each once. */
function ownersOf(s: ClusterStatus): string[] {
  const ids = s.nodes.map((n) => n.id);
  for (const sh of s.shards) if (sh.owner && !ids.includes(sh.owner)) ids.push(sh.owner);
  return ids;
}

function ShardMap(props: { shards: ShardStatus[]; owners: string[]; color: (id: string) => string }) {
  const count = new Map<string, number>();
  for (const s of props.shards) count.set(s.owner, (count.get(s.owner) ?? 0) + 1);
  const orphans = count.get('') ?? 0;
  // Digits fit while the map stays a few rows; past that, titles only.
  const digits = props.shards.length <= 256;
  return (
    <section class="shard-section">
      <h2>Shards</h2>
      <div class="shard-map" data-testid="shard-map" role="list">
        {props.shards.map((s) => {
          const title = s.owner
            ? `shard ${s.id} · owner ${s.owner}` + (s.since ? ` · since ${new Date(s.since).toLocaleString()}` : '')
            : `shard ${s.id} · no owner: failing over`;
          return (
            <span
              key={s.id}
              role="listitem"
              class={s.owner ? 'shard' : 'shard shard-failover'}
              style={s.owner ? { background: props.color(s.owner) } : undefined}
              title={title}
              aria-label={title}
              data-shard={s.id}
              data-owner={s.owner}
            >
              {digits ? s.id : ''}
            </span>
          );
        })}
      </div>
      <ul class="shard-legend">
        {props.owners.map((id) => (
          <li key={id}>
            <span class="swatch" style={{ background: props.color(id) }} /> {id}: {count.get(id) ?? 0}
          </li>
        ))}
        {orphans > 0 && (
          <li>
            <span class="swatch shard-failover" /> no owner (failing over): {orphans}
          </li>
        )}
      </ul>
    </section>
  );
}

/** Projections lists the ClickHouse projectors (admin) with a rebuild each. */
function Projections() {
  const [items, setItems] = useState<Projector[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState('');
  // Bumped to ask again right away (after a rebuild starts).
  const [nudge, setNudge] = useState(0);
  const running = items?.some((p) => p.rebuild?.state === 'running') ?? false;

  usePoll(
    async () => {
      try {
        const r = await request<{ items: Projector[] }>('GET', '/v1/projections');
        setItems(r.items);
        setErr(null);
      } catch (e) {
        setErr(e);
        if (e instanceof ApiError && e.status === 503) setItems(null);
      }
    },
    () => (running ? POLL_MS : PROJ_IDLE_MS),
    [nudge, running],
  );

  const rebuild = async (name: string) => {
    if (confirm !== name) {
      setConfirm(name);
      return;
    }
    setConfirm('');
    setBusy(true);
    setMsg('');
    try {
      await request('POST', `/v1/projections/${encodeURIComponent(name)}/rebuild`);
      setMsg(name === 'all' ? 'rebuilding every projection' : `rebuilding ${name}`);
      setErr(null);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
      setNudge((n) => n + 1);
    }
  };

  const unavailable = err instanceof ApiError && err.status === 503;
  return (
    <section class="projections">
      <h2>Projections</h2>
      {unavailable ? (
        <p class="notice" role="status">
          Projections are not available: {err.detail || err.title}.
        </p>
      ) : (
        <ErrorBox error={err} />
      )}
      {items && (
        <>
          <table class="cluster-nodes">
            <thead>
              <tr>
                <th>Name</th>
                <th>Tables</th>
                <th>Lag</th>
                <th>Last seq</th>
                <th>Rebuild</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.name} data-testid="projection-row" data-name={p.name}>
                  <td>{p.name}</td>
                  <td>
                    <code>{p.tables.join(', ')}</code>
                  </td>
                  <td class={p.lag > 0 ? 'lagging' : ''}>{p.lag}</td>
                  <td>{p.last_seq}</td>
                  <td>{p.rebuild ? <Progress r={p.rebuild} /> : '—'}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      data-testid="projection-rebuild"
                      disabled={busy || running}
                      onClick={() => rebuild(p.name)}
                    >
                      {confirm === p.name ? 'Confirm rebuild' : 'Rebuild'}
                    </button>
                  </td>
                </tr>
              ))}
              {items.length === 0 && (
                <tr>
                  <td colSpan={6} class="empty">
                    No projections run yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <p>
            <button
              type="button"
              class="danger"
              data-testid="projection-rebuild-all"
              disabled={busy || running || items.length === 0}
              onClick={() => rebuild('all')}
            >
              {confirm === 'all' ? 'Confirm rebuild of all' : 'Rebuild all'}
            </button>{' '}
            <span class="hint">
              A rebuild replays the log from the start into fresh tables and swaps them in at once; one runs at a time.
            </span>
            {msg && <span class="ok">{msg}</span>}
          </p>
        </>
      )}
    </section>
  );
}

function Progress(props: { r: RebuildProgress }) {
  const r = props.r;
  if (r.state === 'failed') {
    return (
      <span class="error" title={r.error}>
        failed{r.finished_at ? ' ' + new Date(r.finished_at).toLocaleString() : ''}: {r.error || 'no reason given'}
      </span>
    );
  }
  if (r.state === 'done') {
    return <span class="ok-text">done{r.finished_at ? ' ' + new Date(r.finished_at).toLocaleString() : ''}</span>;
  }
  const pct = r.total > 0 ? Math.min(100, Math.floor((r.done / r.total) * 100)) : 0;
  return (
    <span class="rebuild-progress">
      <progress max={100} value={pct} /> {pct}% · {r.phase} · {r.done}/{r.total}
      {r.events_per_sec > 0 && ` · ${Math.round(r.events_per_sec)}/s`}
      {r.eta_seconds > 0 && ` · ${age(r.eta_seconds * 1000)} left`}
    </span>
  );
}

/** age says how long ms is, roughly: "350 ms", "4.2 s", "3 min", "2 h". */
function age(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 10000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${Math.round(ms / 3600000)} h`;
}

import { useEffect, useState } from 'preact/hooks';
import { api, type Device as DeviceT, type EventItem } from '../api';
import { ErrorBox, Link, LiveVideo, StatusBadge } from '../components';
import { navigate } from '../router';

const EVENTS_PAGE = 50;

export function Device(props: { id: string; channel: number }) {
  const [dev, setDev] = useState<DeviceT | null>(null);
  const [err, setErr] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    setDev(null);
    api
      .getDevice(props.id)
      .then((d) => live && (setDev(d), setErr(null)))
      .catch((e) => live && setErr(e));
    return () => {
      live = false;
    };
  }, [props.id]);

  const channels = dev ? Array.from({ length: Math.max(1, dev.channels) }, (_, i) => i + 1) : [];
  const ch = dev && props.channel >= 1 && props.channel <= dev.channels ? props.channel : 1;
  const base = '/devices/' + encodeURIComponent(props.id);

  return (
    <main>
      <p class="crumbs">
        <Link to="/devices">Devices</Link> / {props.id}
      </p>
      <ErrorBox error={err} />
      {dev && (
        <>
          <h1>
            {dev.name} <StatusBadge status={dev.status} />
          </h1>
          <dl class="props">
            <dt>ID</dt>
            <dd>{dev.id}</dd>
            <dt>URL</dt>
            <dd>{dev.url}</dd>
            <dt>Channels</dt>
            <dd>{dev.channels}</dd>
            <dt>Labels</dt>
            <dd>
              {Object.entries(dev.labels)
                .map(([k, v]) => `${k}:${v}`)
                .join(', ') || '—'}
            </dd>
            <dt>Version</dt>
            <dd>{dev.version}</dd>
          </dl>
          {channels.length > 1 && (
            <nav class="tabs">
              {channels.map((c) => (
                <button
                  type="button"
                  key={c}
                  class={c === ch ? 'active' : ''}
                  onClick={() => navigate(c === 1 ? base : `${base}?ch=${c}`, true)}
                >
                  Channel {c}
                </button>
              ))}
            </nav>
          )}
          <LiveVideo device={dev.id} channel={ch} />
          <Events id={dev.id} />
        </>
      )}
    </main>
  );
}

function Events(props: { id: string }) {
  const [items, setItems] = useState<EventItem[]>([]);
  const [after, setAfter] = useState(0);
  const [end, setEnd] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);

  const load = async (from: number, reset: boolean) => {
    setBusy(true);
    try {
      const p = await api.deviceEvents(props.id, from, EVENTS_PAGE);
      setItems((xs) => (reset ? p.items : [...xs, ...p.items]));
      if (p.items.length > 0) setAfter(p.next_after_seq);
      setEnd(p.items.length < EVENTS_PAGE);
      setErr(null);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    setItems([]);
    setAfter(0);
    setEnd(false);
    load(0, true);
  }, [props.id]);

  return (
    <section class="events">
      <h2>Event history</h2>
      <ErrorBox error={err} />
      <ol>
        {items.map((e) => (
          <li key={e.seq} data-testid="event-item" data-seq={e.seq}>
            <span class="seq">#{e.seq}</span> <time>{new Date(e.time).toLocaleString()}</time>{' '}
            <strong>{e.type}</strong> <span class="agg">{e.aggregate}</span>{' '}
            <code>{summarize(e.data)}</code>
          </li>
        ))}
      </ol>
      {items.length === 0 && !busy && <p class="empty">No events.</p>}
      <button type="button" disabled={busy || end} onClick={() => load(after, false)}>
        {end ? 'No more events' : busy ? 'Loading…' : 'Load more'}
      </button>{' '}
      <button type="button" disabled={busy} onClick={() => load(after, false)} title="fetch events newer than the last shown">
        Check for new
      </button>
    </section>
  );
}

function summarize(data: unknown): string {
  if (data === null || data === undefined) return '';
  const s = JSON.stringify(data);
  return s.length > 160 ? s.slice(0, 157) + '…' : s;
}

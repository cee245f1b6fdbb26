import { useEffect, useState } from 'preact/hooks';
import { api, may, type Device as DeviceT, type EventItem } from '../api';
import { ErrorBox, Link, LiveVideo, StatusBadge } from '../components';
import { labelText } from '../forms';
import { navigate } from '../router';
import { Recordings } from './device/Recordings';
import { PlanEditor } from './device/PlanEditor';
import { EditDevice } from './device/EditDevice';
import { CameraPanel } from './device/Camera';
import { MotionPanel } from './device/Motion';

const EVENTS_PAGE = 50;

/**
 * Device is one device's page: /devices/{id}[?ch=n][&day=YYYY-MM-DD][&t=ms].
 * The channel and the timeline's day are in the URL so the view is a deep
 * link, t (unix ms, an alarm's "Recording" link) an instant to play from;
 * an ONVIF camera's information, snapshot and PTZ pad come first, then live
 * and recorded video, the plan, motion detection, the edit form and the
 * history.
 */
export function Device(props: { id: string; channel: number; query: URLSearchParams }) {
  const [dev, setDev] = useState<DeviceT | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    api
      .getDevice(props.id)
      .then((d) => live && (setDev(d), setErr(null)))
      .catch((e) => live && setErr(e));
    return () => {
      live = false;
    };
  }, [props.id, reload]);

  const channels = dev ? Array.from({ length: Math.max(1, dev.channels) }, (_, i) => i + 1) : [];
  const ch = dev && props.channel >= 1 && props.channel <= dev.channels ? props.channel : 1;
  const day = props.query.get('day');
  const t = Number(props.query.get('t') ?? '');
  const at = props.query.has('t') && Number.isSafeInteger(t) && t > 0 ? t : null;

  /** go replaces the page's query with ch and day changed (defaults left out; t was for the old view). */
  const go = (c: number, d: string | null) => {
    const q = new URLSearchParams(props.query);
    q.delete('t');
    if (c === 1) q.delete('ch');
    else q.set('ch', String(c));
    if (d) q.set('day', d);
    else q.delete('day');
    const s = q.toString();
    navigate('/devices/' + encodeURIComponent(props.id) + (s ? '?' + s : ''), true);
  };

  return (
    <main class="device-page">
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
            <dd>{dev.url || (dev.onvif ? '— (streams from ONVIF, see Camera)' : '—')}</dd>

            <dt>Channels</dt>
            <dd>{dev.channels}</dd>
            <dt>Labels</dt>
            <dd>
{labelText(dev.labels) || '—'}
            </dd>
            <dt>Version</dt>
            <dd>{dev.version}</dd>
          </dl>
          {channels.length > 1 && (
            <nav class="tabs">
              {channels.map((c) => (
                <button type="button" key={c} class={c === ch ? 'active' : ''} onClick={() => go(c, day)}>
                  Channel {c}
                </button>
              ))}
            </nav>
          )}
          {(dev.camera || dev.onvif) && <CameraPanel dev={dev} channel={ch} canEdit={may('operator')} onDevice={setDev} />}
          <Recordings
            device={dev.id}
            channel={ch}
            day={day}
            at={at}
            onDay={(d) => go(ch, d)}
            live={<LiveVideo device={dev.id} channel={ch} />}
          />
          <PlanEditor device={dev.id} channel={ch} canEdit={may('operator')} />
          <MotionPanel device={dev.id} channel={ch} canEdit={may('operator')} />
          {may('operator') && <EditDevice dev={dev} onSaved={setDev} onReload={() => setReload((r) => r + 1)} />}
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

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, dataURL, type Alarm } from '../../api';
import { Link } from '../../components';
import { dayString, stamp } from '../device/time';
import { alarmsChanged } from './poll';

const problemText = (e: unknown) => (e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));
const when = (s: string | null | undefined) => (s ? stamp(Date.parse(s)) : '—');

/** columns is the table's number of columns (the detail row spans them): the last one holds the actions. */
export const columns = (canAct: boolean) => (canAct ? 11 : 10);

/**
 * recordingLink is the device page at the alarm's instant: its channel (a
 * device-wide alarm: channel 1), its local day on the timeline, and t (unix
 * ms), where the page starts playing.
 */
export function recordingLink(a: Alarm): string {
  const t = Date.parse(a.raised_at);
  const q = new URLSearchParams();
  if (a.channel > 1) q.set('ch', String(a.channel));
  q.set('day', dayString(t));
  q.set('t', String(t));
  return `/devices/${encodeURIComponent(a.device)}?${q}`;
}

/**
 * AlarmRow is one alarm of the table: a click on ▸ opens its details (the
 * picture taken at the raise, the link to the recording); operators get a
 * note (or reason) and Ack and Clear. onChanged gets the alarm as the
 * server answered it.
 */
export function AlarmRow(props: { a: Alarm; canAct: boolean; onChanged: (a: Alarm) => void }) {
  const a = props.a;
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const closed = a.state === 'cleared';

  const act = async (clear: boolean) => {
    setBusy(true);
    setErr('');
    try {
      const v = clear ? await api.clearAlarm(a.id, note.trim()) : await api.ackAlarm(a.id, note.trim());
      setNote('');
      props.onChanged(v);
      alarmsChanged();
    } catch (e) {
      setErr(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <tr data-testid="alarm-row" data-id={a.id} data-state={a.state} data-severity={a.severity} data-device={a.device} class={'alarm-' + a.state}>
        <td>
          <button type="button" class="alarm-expand" data-testid="alarm-expand" aria-expanded={open} title={open ? 'hide details' : 'details, picture, recording'} onClick={() => setOpen((o) => !o)}>
            {open ? '▾' : '▸'}
          </button>
        </td>
        <td>
          <span class={'sev sev-' + a.severity} data-testid="alarm-severity">
            {a.severity}
          </span>
        </td>
        <td title={a.message}>
          <strong>{a.type}</strong>
          {a.message && <span class="alarm-message"> {a.message}</span>}
        </td>
        <td>
          <Link to={`/devices/${encodeURIComponent(a.device)}${a.channel > 1 ? '?ch=' + a.channel : ''}`}>{a.device}</Link>
        </td>
        <td>{a.channel === 0 ? '—' : a.channel}</td>
        <td data-testid="alarm-count">{a.count}</td>
        <td>
          <time dateTime={a.raised_at}>{when(a.raised_at)}</time>
        </td>
        <td>
          <time dateTime={a.last_at}>{when(a.last_at)}</time>
        </td>
        <td>
          <span class={'alarm-state state-' + a.state} data-testid="alarm-state">
            {a.state}
          </span>
        </td>
        <td>{a.active ? <span class="alarm-active">active</span> : <span class="hint">ended</span>}</td>
        {props.canAct && (
          <td>
            <div class="alarm-actions">
              {!closed && (
                <>
                  <input
                    data-testid="alarm-note"
                    aria-label={`note or reason for ${a.id}`}
                    placeholder="note / reason"
                    title="optional: the acknowledgement's note, or the clear's reason"
                    value={note}
                    maxLength={500}
                    onInput={(e) => setNote((e.target as HTMLInputElement).value)}
                  />
                  {a.state === 'raised' && (
                    <button type="button" data-testid="alarm-ack" disabled={busy} onClick={() => act(false)} title="acknowledge, with the note">
                      Ack
                    </button>
                  )}
                  <button type="button" class="danger" data-testid="alarm-clear" disabled={busy} onClick={() => act(true)} title="clear, with the reason">
                    Clear
                  </button>
                </>
              )}
              {err && (
                <span class="field-error" data-testid="alarm-error">
                  {err}
                </span>
              )}
            </div>
          </td>
        )}
      </tr>
      {open && (
        <tr class="alarm-details" data-testid="alarm-details" data-id={a.id}>
          <td colSpan={columns(props.canAct)}>
            <Details a={a} />
          </td>
        </tr>
      )}
    </>
  );
}

function Details(props: { a: Alarm }) {
  const a = props.a;
  return (
    <div class="alarm-detail">
      <AlarmPicture url={a.snapshot_url} />
      <div>
        <dl class="props">
          <dt>ID</dt>
          <dd>
            <code>{a.id}</code>
          </dd>
          <dt>Message</dt>
          <dd>{a.message || '—'}</dd>
          <dt>Source</dt>
          <dd>
            {a.source}
            {a.raised_by && ` (key ${a.raised_by})`}
          </dd>
          <dt>Raised</dt>
          <dd>
            {when(a.raised_at)}
            {a.count > 1 && `, ${a.count} times, last ${when(a.last_at)}`}
          </dd>
          {a.ended_at && (
            <>
              <dt>Ended</dt>
              <dd>{when(a.ended_at)}</dd>
            </>
          )}
          {a.acked_at && (
            <>
              <dt>Acknowledged</dt>
              <dd data-testid="alarm-acked">
                {when(a.acked_at)}
                {a.acked_by && ` by ${a.acked_by}`}
                {a.note && <>: “{a.note}”</>}
              </dd>
            </>
          )}
          {a.cleared_at && (
            <>
              <dt>Cleared</dt>
              <dd>
                {when(a.cleared_at)}
                {a.cleared_by && ` by ${a.cleared_by}`}
                {a.clear_reason && <>: “{a.clear_reason}”</>}
              </dd>
            </>
          )}
        </dl>
        <p>
          <Link to={recordingLink(a)} testid="alarm-recording">
            Recording at {when(a.raised_at)}
          </Link>
        </p>
      </div>
    </div>
  );
}

// Pictures do not change (the server says immutable): fetched once a page load.
const pictures = new Map<string, string>();
const PICTURES_KEPT = 50;

/**
 * AlarmPicture shows the picture taken at the raise: fetched with the key
 * and shown as a data: URL (see dataURL). An alarm raised a moment ago may
 * not have one yet: its url appears with a later read of the list.
 */
function AlarmPicture(props: { url: string | null }) {
  const [src, setSrc] = useState<string | null>(props.url ? (pictures.get(props.url) ?? null) : null);
  const [err, setErr] = useState('');

  useEffect(() => {
    const url = props.url;
    setErr('');
    if (!url) {
      setSrc(null);
      return;
    }
    const had = pictures.get(url);
    if (had) {
      setSrc(had);
      return;
    }
    let live = true;
    dataURL(url)
      .then((d) => {
        if (pictures.size >= PICTURES_KEPT) pictures.delete(pictures.keys().next().value as string);
        pictures.set(url, d);
        if (live) setSrc(d);
      })
      .catch((e) => live && setErr(problemText(e)));
    return () => {
      live = false;
    };
  }, [props.url]);

  if (src) return <img class="alarm-picture" data-testid="alarm-picture" src={src} alt="the picture taken when the alarm was raised" />;
  return (
    <div class="alarm-picture empty" data-testid="alarm-no-picture">
      {err ? `no picture: ${err}` : props.url ? 'loading the picture…' : 'no picture'}
    </div>
  );
}

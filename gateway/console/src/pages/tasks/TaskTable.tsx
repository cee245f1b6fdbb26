// The tasks' table (live and history): type, what it works on, state and
// progress, worker, attempts, the result to download (a snapshot's picture
// shown too) or the error; Cancel for operators while it is not over.
import { useState } from 'preact/hooks';
import { api, ApiError, dataURL, taskOver, type Task } from '../../api';
import { Link } from '../../components';
import { clock, dayString, stamp } from '../device/time';
import { ResultButton, StateBadge, TaskProgress } from './util';

const when = (s: string | null | undefined) => (s ? stamp(Date.parse(s)) : '—');

/** rangeText is what a task covers: a snapshot's instant (or live), a range's start and end. */
export function rangeText(t: Task): string {
  if (!t.from) return t.type === 'snapshot' ? 'live' : '—';
  const a = Date.parse(t.from);
  if (!t.to) return stamp(a);
  const b = Date.parse(t.to);
  return `${stamp(a)} – ${dayString(a) === dayString(b) ? clock(b) : stamp(b)}`;
}

/** deviceLink is the device page at the task's channel and day. */
function deviceLink(t: Task): string {
  const q = new URLSearchParams();
  if ((t.channel ?? 1) > 1) q.set('ch', String(t.channel));
  if (t.from) {
    const a = Date.parse(t.from);
    q.set('day', dayString(a));
    q.set('t', String(a));
  }
  const s = q.toString();
  return `/devices/${encodeURIComponent(t.device ?? '')}${s ? '?' + s : ''}`;
}

const COLUMNS = 10;

export function TaskTable(props: { items: Task[] | null; canAct: boolean; onChanged: (t: Task) => void; empty: string; testid: string }) {
  return (
    <table class="tasks-table" data-testid={props.testid}>
      <thead>
        <tr>
          <th>Task</th>
          <th>Type</th>
          <th>Device / ch</th>
          <th>Range</th>
          <th>State</th>
          <th>Progress</th>
          <th>Worker</th>
          <th>Attempts</th>
          <th>Result</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {(props.items ?? []).map((t) => (
          <TaskRow key={t.id} t={t} canAct={props.canAct} onChanged={props.onChanged} />
        ))}
        {props.items !== null && props.items.length === 0 && (
          <tr>
            <td colSpan={COLUMNS} class="empty" data-testid="tasks-empty">
              {props.empty}
            </td>
          </tr>
        )}
        {props.items === null && (
          <tr>
            <td colSpan={COLUMNS} class="empty">
              loading…
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function TaskRow(props: { t: Task; canAct: boolean; onChanged: (t: Task) => void }) {
  const t = props.t;
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [picture, setPicture] = useState<string | null>(null);
  const [pictureErr, setPictureErr] = useState('');

  const cancel = async () => {
    setBusy(true);
    setErr('');
    try {
      props.onChanged(await api.cancelTask(t.id));
    } catch (e) {
      setErr(e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));
    } finally {
      setBusy(false);
    }
  };

  const showPicture = async () => {
    if (picture) {
      setPicture(null);
      return;
    }
    setPictureErr('');
    try {
      // An <img> cannot send the key; the CSP's img-src takes data: URLs.
      setPicture(await dataURL(t.result!.url));
    } catch (e) {
      setPictureErr(e instanceof ApiError ? e.detail || e.title : String(e));
    }
  };
  const isPicture = t.state === 'succeeded' && t.result?.content_type === 'image/jpeg';

  return (
    <>
      <tr data-testid="task-row" data-task-id={t.id} data-state={t.state} data-type={t.type} class={'task-' + t.state}>
        <td>
          <code title={`created ${when(t.created_at)}${t.created_by ? ' by ' + t.created_by : ''}`}>{t.id}</code>
          <div class="hint">
            {t.queue} · {t.group} · prio {t.priority}
          </div>
        </td>
        <td>{t.type}</td>
        <td>{t.device ? <Link to={deviceLink(t)}>{`${t.device} / ${t.channel ?? 1}`}</Link> : t.source ? `upload ${t.source}` : '—'}</td>
        <td class="task-range">{rangeText(t)}</td>
        <td data-testid="task-state">
          <StateBadge task={t} />
        </td>
        <td>
          <TaskProgress task={t} />
        </td>
        <td>{t.worker || '—'}</td>
        <td>
          {t.attempts} / {t.max_attempts}
        </td>
        <td class="task-outcome">
          <ResultButton task={t} testid="task-download" />
          {isPicture && (
            <button type="button" data-testid="task-picture-toggle" onClick={showPicture}>
              {picture ? 'Hide' : 'Show'}
            </button>
          )}
          {t.error && (
            <span class="error task-error" data-testid="task-error">
              {t.error}
            </span>
          )}
          {t.state === 'succeeded' && t.finished_at && <div class="hint">finished {when(t.finished_at)}</div>}
        </td>
        <td>
          {props.canAct && !taskOver(t.state) && (
            <button type="button" class="danger" data-testid="task-cancel" disabled={busy} onClick={cancel}>
              {busy ? 'Canceling…' : 'Cancel'}
            </button>
          )}
          {err && (
            <span class="error" data-testid="task-cancel-error">
              {' '}
              {err}
            </span>
          )}
        </td>
      </tr>
      {(picture || pictureErr) && (
        <tr class="task-picture-row">
          <td colSpan={COLUMNS}>
            {picture ? <img src={picture} alt={`snapshot of ${t.device} channel ${t.channel ?? 1}`} data-testid="task-picture" class="task-picture" /> : <span class="error">{pictureErr}</span>}
          </td>
        </tr>
      )}
    </>
  );
}

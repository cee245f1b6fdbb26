// Task bits the tasks page and the device page's clip export share: the
// result's file name and size, a task's progress, following one task until
// it is over, and the result's download (fetched with the key).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, saveFile, taskOver, type Task } from '../../api';
import { duration, fileStamp } from '../device/time';

/** bytes is n as "1.2 MB". */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const EXT: Record<string, string> = {
  'video/mp4': '.mp4',
  'image/jpeg': '.jpg',
  'application/vnd.apple.mpegurl': '.m3u8',
  'video/mp2t': '.ts',
};

/** resultName is the file name a task's result is saved as: type, device, channel, range start, id. */
export function resultName(t: Task): string {
  const ext = EXT[t.result?.content_type ?? ''] ?? '';
  const at = t.from ? '-' + fileStamp(Date.parse(t.from)) : '';
  const what = t.device ? `-${t.device}-ch${t.channel ?? 1}` : t.source ? `-${t.source}` : '';
  return `${t.type}${what}${at}-${t.id}${ext}`;
}

/** resultSummary is "1.2 MB, 8 s" (the duration when it has one). */
export function resultSummary(t: Task): string {
  const r = t.result;
  if (!r) return '';
  return r.duration_ms > 0 ? `${bytes(r.bytes)}, ${duration(r.duration_ms)}` : bytes(r.bytes);
}

/** percent is a progress (0..1) as "40 %". */
export const percent = (p: number) => `${Math.round(Math.max(0, Math.min(1, p)) * 100)} %`;

/** TaskProgress is a task's progress bar with its percentage. */
export function TaskProgress(props: { task: Task; testid?: string }) {
  const t = props.task;
  const p = t.state === 'succeeded' ? 1 : Math.max(0, Math.min(1, t.progress || 0));
  return (
    <span class="task-progress">
      <progress data-testid={props.testid ?? 'task-progress'} data-progress={p.toFixed(3)} value={p} max={1} />
      <span class="task-percent">{percent(p)}</span>
    </span>
  );
}

/** StateBadge is a task's state, with the dead letter flagged. */
export function StateBadge(props: { task: Task }) {
  const t = props.task;
  return (
    <span class="task-state-cell">
      <span class={'task-state task-state-' + t.state}>{t.state}</span>
      {t.dead_letter && (
        <span class="task-dead-letter" data-testid="task-dead-letter" title="failed because its attempts ran out">
          dead letter
        </span>
      )}
    </span>
  );
}

/**
 * ResultButton downloads a succeeded task's result: GET with the key into
 * a Blob, saved under resultName through an object URL.
 */
export function ResultButton(props: { task: Task; testid: string; label?: string }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const t = props.task;
  if (t.state !== 'succeeded' || !t.result) return null;
  const r = t.result;
  return (
    <span class="task-result">
      <button
        type="button"
        data-testid={props.testid}
        disabled={busy}
        title={r.content_type}
        onClick={async () => {
          setBusy(true);
          setErr('');
          try {
            await saveFile(r.url, resultName(t));
          } catch (e) {
            setErr(e instanceof ApiError ? e.detail || e.title || `HTTP ${e.status}` : String(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? 'Downloading…' : `${props.label ?? 'Download'} (${resultSummary(t)})`}
      </button>
      {err && (
        <span class="error" data-testid="task-download-error">
          {' '}
          {err}
        </span>
      )}
    </span>
  );
}

/**
 * useTask follows one task (GET /v1/tasks/{id} every ms) until it is over;
 * first is the submit's answer, shown until the first read. A failed read
 * is kept in err and read again.
 */
export function useTask(first: Task | null, ms: number): { task: Task | null; err: unknown } {
  const [task, setTask] = useState<Task | null>(first);
  const [err, setErr] = useState<unknown>(null);
  const id = first?.id ?? '';
  useEffect(() => {
    setTask(first);
    setErr(null);
    if (!first || taskOver(first.state)) return;
    let stopped = false;
    let timer: number | undefined;
    const read = async () => {
      let over = false;
      try {
        const t = await api.getTask(first.id);
        if (stopped) return;
        setTask(t);
        setErr(null);
        over = taskOver(t.state);
      } catch (e) {
        if (stopped) return;
        setErr(e);
        // A task that is gone will not come back.
        over = e instanceof ApiError && e.status === 404;
      }
      if (!over && !stopped) timer = window.setTimeout(read, ms);
    };
    timer = window.setTimeout(read, ms);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  return { task, err };
}

/**
 * usePoll calls f now and every ms after each answer while the tab is
 * visible; deps restart it. It answers a function that reads again at once
 * (after the call under way, if any).
 */
export function usePoll(f: () => Promise<void>, ms: number, deps: unknown[]): () => void {
  const kick = useRef<() => void>(() => {});
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let busy = false;
    let again = false;
    const tick = async () => {
      if (busy) {
        again = true;
        return;
      }
      clearTimeout(timer);
      if (!document.hidden) {
        busy = true;
        await f().catch(() => {});
        busy = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        tick();
        return;
      }
      timer = window.setTimeout(tick, ms);
    };
    kick.current = tick;
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      kick.current = () => {};
    };
  }, deps);
  return () => kick.current();
}

// The "New task" form (operators): a snapshot, clip, timelapse or
// transcode of a device's channel, with its range (browser time), the
// type's parameters, worker group and priority. A refused submit shows the
// problem's message next to the field it names.
import { useEffect, useState } from 'preact/hooks';
import { api, TASK_TYPES, type NewTask as NewTaskBody, type Task, type TaskType } from '../../api';
import { FieldError, problemErrors, TextField, type Errors } from '../../forms';
import { parseLocalInput } from '../device/time';

const RENDITIONS = ['360p', '480p', '720p', '1080p'];
const DEFAULT_RENDITIONS = ['360p', '720p'];
/** FIELDS are the problem fields the form shows at an input; anything else goes under the button. */
const FIELDS = ['type', 'device', 'channel', 'from', 'to', 'params.timestamp', 'params.speed', 'params.renditions', 'params.width', 'group', 'priority'];

interface Values {
  type: TaskType;
  device: string;
  channel: string;
  from: string;
  to: string;
  timestamp: boolean;
  speed: string;
  renditions: string[];
  width: string;
  group: string;
  priority: string;
}

const initial = (device: string): Values => ({
  type: 'clip',
  device,
  channel: '1',
  from: '',
  to: '',
  timestamp: false,
  speed: '10',
  renditions: DEFAULT_RENDITIONS,
  width: '',
  group: '',
  priority: '5',
});

/** body is the POST /v1/tasks of v, or the errors found before sending it. */
function body(v: Values): { ok: NewTaskBody } | { errs: Errors } {
  const errs: Errors = {};
  const b: NewTaskBody = { type: v.type, device: v.device.trim() };
  if (!b.device) errs.device = 'give the device';
  const ch = Number(v.channel || '1');
  if (!Number.isInteger(ch)) errs.channel = 'the channel is a number';
  else b.channel = ch;
  const from = v.from ? parseLocalInput(v.from) : null;
  const to = v.to && v.type !== 'snapshot' ? parseLocalInput(v.to) : null;
  if (v.from && from === null) errs.from = 'not a date and time';
  if (v.type !== 'snapshot') {
    if (!v.from) errs.from = 'give the start of the range';
    if (!v.to) errs.to = 'give the end of the range';
    else if (to === null) errs.to = 'not a date and time';
  }
  if (from !== null) b.from = new Date(from).toISOString();
  if (to !== null) b.to = new Date(to).toISOString();
  const params: NewTaskBody['params'] = {};
  if ((v.type === 'clip' || v.type === 'timelapse') && v.timestamp) params.timestamp = true;
  if (v.type === 'timelapse') {
    const s = Number(v.speed);
    if (!Number.isInteger(s)) errs['params.speed'] = 'the speed is a whole number';
    else params.speed = s;
  }
  if (v.type === 'transcode' && v.renditions.length) params.renditions = RENDITIONS.filter((r) => v.renditions.includes(r));
  if (v.type === 'snapshot' && v.width.trim()) {
    const w = Number(v.width);
    if (!Number.isInteger(w)) errs['params.width'] = 'the width is a whole number of pixels';
    else params.width = w;
  }
  if (Object.keys(params).length) b.params = params;
  if (v.group.trim()) b.group = v.group.trim();
  if (v.priority.trim()) {
    const p = Number(v.priority);
    if (!Number.isInteger(p)) errs.priority = 'the priority is a whole number';
    else b.priority = p;
  }
  return Object.keys(errs).length ? { errs } : { ok: b };
}

/**
 * NewTask submits a task; onSubmitted gets the server's answer (the page
 * then follows it in the live list). device prefills the device.
 */
export function NewTask(props: { device: string; onSubmitted: (t: Task) => void; onClose: () => void }) {
  const [v, setV] = useState<Values>(() => initial(props.device));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Task | null>(null);
  const [devices, setDevices] = useState<string[]>([]);

  useEffect(() => {
    api
      .listDevices({ limit: 1000 })
      .then((p) => setDevices(p.items.map((d) => d.id)))
      .catch(() => {});
  }, []);

  const set = <K extends keyof Values>(k: K, x: Values[K]) => setV((o) => ({ ...o, [k]: x }));
  const cls = (k: string) => (errors[k] ? 'field invalid' : 'field');

  const submit = async (e: Event) => {
    e.preventDefault();
    const b = body(v);
    if ('errs' in b) {
      setErrors(b.errs);
      return;
    }
    setBusy(true);
    setErrors({});
    setDone(null);
    try {
      const t = await api.submitTask(b.ok);
      setDone(t);
      props.onSubmitted(t);
    } catch (ex) {
      setErrors(problemErrors(ex, (f) => (FIELDS.includes(f) ? f : 'form')));
    } finally {
      setBusy(false);
    }
  };

  const snapshot = v.type === 'snapshot';
  return (
    <form class="task-new panel" data-testid="task-new-form" onSubmit={submit}>
      <h2>New task</h2>
      <div class={cls('type')}>
        <label for="task-type">Type</label>
        <select id="task-type" data-testid="task-new-type" value={v.type} onChange={(e) => set('type', (e.target as HTMLSelectElement).value as TaskType)}>
          {TASK_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <FieldError errors={errors} field="type" />
      </div>
      <TextField id="task-device" name="device" label="Device" list="task-devices" value={v.device} errors={errors} onInput={(x) => set('device', x)} testid="task-new-device" />
      <datalist id="task-devices">
        {devices.map((d) => (
          <option key={d} value={d} />
        ))}
      </datalist>
      <TextField id="task-channel" name="channel" label="Channel" type="number" value={v.channel} errors={errors} onInput={(x) => set('channel', x)} />
      <div class={cls('from')}>
        <label for="task-from">{snapshot ? 'At' : 'From'}</label>
        <input id="task-from" name="from" type="datetime-local" step={1} data-testid="task-new-from" value={v.from} onInput={(e) => set('from', (e.target as HTMLInputElement).value)} />
        {snapshot && <small class="hint">empty: a live picture</small>}
        <FieldError errors={errors} field="from" />
      </div>
      {!snapshot && (
        <div class={cls('to')}>
          <label for="task-to">To</label>
          <input id="task-to" name="to" type="datetime-local" step={1} data-testid="task-new-to" value={v.to} onInput={(e) => set('to', (e.target as HTMLInputElement).value)} />
          <small class="hint">at most 24 h after From</small>
          <FieldError errors={errors} field="to" />
        </div>
      )}
      {(v.type === 'clip' || v.type === 'timelapse') && (
        <div class={cls('params.timestamp') + ' check'}>
          <label>
            <input type="checkbox" id="task-timestamp" checked={v.timestamp} onChange={(e) => set('timestamp', (e.target as HTMLInputElement).checked)} /> burn in the time
          </label>
          <FieldError errors={errors} field="params.timestamp" />
        </div>
      )}
      {v.type === 'timelapse' && (
        <TextField id="task-speed" name="params.speed" label="Speed (×)" type="number" value={v.speed} errors={errors} onInput={(x) => set('speed', x)} hint="2..1000" />
      )}
      {v.type === 'transcode' && (
        <fieldset class={cls('params.renditions') + ' task-renditions'}>
          <legend>Renditions (HLS)</legend>
          {RENDITIONS.map((r) => (
            <label key={r}>
              <input
                type="checkbox"
                value={r}
                checked={v.renditions.includes(r)}
                onChange={(e) => set('renditions', (e.target as HTMLInputElement).checked ? [...v.renditions, r] : v.renditions.filter((x) => x !== r))}
              />{' '}
              {r}
            </label>
          ))}
          <FieldError errors={errors} field="params.renditions" />
        </fieldset>
      )}
      {snapshot && (
        <TextField id="task-width" name="params.width" label="Width (px)" type="number" placeholder="as recorded" value={v.width} errors={errors} onInput={(x) => set('width', x)} />
      )}
      <TextField id="task-group" name="group" label="Worker group" placeholder="default" value={v.group} errors={errors} onInput={(x) => set('group', x)} />
      <TextField id="task-priority" name="priority" label="Priority" type="number" value={v.priority} errors={errors} onInput={(x) => set('priority', x)} hint="0..9, higher first" />
      <div class="panel-actions">
        <button type="submit" data-testid="task-new-submit" disabled={busy}>
          {busy ? 'Submitting…' : 'Submit'}
        </button>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
        <FieldError errors={errors} field="form" />
        {done && (
          <span class="ok" data-testid="task-new-done" data-task-id={done.id}>
            Submitted {done.id} ({done.state}); it is followed in the list below.
          </span>
        )}
      </div>
    </form>
  );
}

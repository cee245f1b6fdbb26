import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Device } from '../../api';
import { deviceApi, type DevicePatch } from './http';
import { Conflict, FieldError, TextField, labelText, parseLabels, problemErrors, type Errors } from '../../forms';
import './device.css';

const FIELDS = ['name', 'url', 'username', 'password', 'channels', 'labels'] as const;
type Field = (typeof FIELDS)[number];
type Values = Record<Field, string>;

/** fieldOf maps a problem's field ("labels.site") to the input showing it. */
function fieldOf(f: string): string {
  const top = f.split('.')[0];
  return (FIELDS as readonly string[]).includes(top) ? top : 'form';
}

function valuesOf(d: Device): Values {
  return { name: d.name, url: d.url, username: d.username ?? '', password: '', channels: String(d.channels), labels: labelText(d.labels) };
}

/**
 * patchOf is the merge patch from d to the form: only changed members; a
 * cleared username is null (removed), an empty password is no change, a
 * label no longer listed is null (removed).
 */
function patchOf(d: Device, v: Values): { patch: DevicePatch } | { errors: Errors } {
  const p: DevicePatch = {};
  if (v.name !== d.name) p.name = v.name;
  if (v.url !== d.url) p.url = v.url;
  if (v.username !== (d.username ?? '')) p.username = v.username === '' ? null : v.username;
  if (v.password !== '') p.password = v.password;
  if (v.channels.trim() !== String(d.channels)) {
    const n = Number(v.channels);
    if (v.channels.trim() === '' || !Number.isInteger(n)) return { errors: { channels: 'channels must be a whole number' } };
    p.channels = n;
  }
  const labels = parseLabels(v.labels);
  if (typeof labels === 'string') return { errors: { labels } };
  const lp: Record<string, string | null> = {};
  for (const [k, val] of Object.entries(labels)) if (d.labels[k] !== val) lp[k] = val;
  for (const k of Object.keys(d.labels)) if (!(k in labels)) lp[k] = null;
  if (Object.keys(lp).length) p.labels = lp;
  return { patch: p };
}

/**
 * EditDevice changes a device with a JSON merge patch guarded by its
 * version (If-Match): an edit made on a stale copy is refused (412) rather
 * than silently overwriting someone else's change.
 */
export function EditDevice(props: { dev: Device; onSaved: (d: Device) => void; onReload: () => void }) {
  const [v, setV] = useState<Values>(() => valuesOf(props.dev));
  const [errors, setErrors] = useState<Errors>({});
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');

  // A new copy of the device (saved, reloaded) restarts the form from it.
  useEffect(() => {
    setV(valuesOf(props.dev));
    setErrors({});
    setConflict(false);
  }, [props.dev]);


  const submit = async (e: Event) => {
    e.preventDefault();
    setNote('');
    setConflict(false);
    const r = patchOf(props.dev, v);
    if ('errors' in r) {
      setErrors(r.errors);
      return;
    }
    const patch = r.patch;
    if (Object.keys(patch).length === 0) {
      setErrors({});
      setNote('nothing to change');
      return;
    }
    setBusy(true);
    try {
      const d = await deviceApi.patchDevice(props.dev.id, props.dev.version, patch);
      setErrors({});
      setNote(`saved (version ${d.version})`);
      props.onSaved(d);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 412) {
        setErrors({});
        setConflict(true);
      } else setErrors(problemErrors(ex, fieldOf));
    } finally {
      setBusy(false);
    }
  };

  const field = (k: Field, label: string, type: 'text' | 'password' | 'number' = 'text', placeholder = '') => (
    <TextField
      id={'edit-' + k}
      name={k}
      label={label}
      type={type}
      placeholder={placeholder}
      autocomplete={k === 'password' ? 'new-password' : 'off'}
      value={v[k]}
      errors={errors}
      onInput={(x) => setV({ ...v, [k]: x })}
    />
  );

  return (
    <form class="panel device-edit" onSubmit={submit} data-testid="device-edit">
      <h2>Edit device</h2>
      {field('name', 'Name')}
      {field('url', 'RTSP URL', 'text', 'rtsp://camera:554/stream')}
      {field('username', 'Username', 'text', 'empty: none')}
      {field('password', 'Password', 'password', 'empty: unchanged')}
      {field('channels', 'Channels', 'number')}
      {field('labels', 'Labels', 'text', 'site:hq, floor:2')}
      <div class="panel-actions">
        <button type="submit" disabled={busy} data-testid="device-edit-submit">
          {busy ? 'Saving…' : 'Save'}
        </button>
        {note && <span class="ok">{note}</span>}
        <FieldError errors={errors} field="form" />
        <span class="hint">sent as a merge patch of the changed fields, for version {props.dev.version}</span>
      </div>
      {conflict && <Conflict what="device" onReload={props.onReload} />}
    </form>
  );
}

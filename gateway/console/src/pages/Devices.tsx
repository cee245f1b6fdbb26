import { useEffect, useRef, useState } from 'preact/hooks';
import { api, may, ApiError, type Device, type NewDevice } from '../api';
import { ErrorBox, Link, StatusBadge } from '../components';
import { TextField, parseLabels } from '../forms';
import { navigate } from '../router';
import { Discover, type AddPrefill } from './devices/Discover';

export const STATUSES = ['online', 'offline', 'unknown'];

/** devicesURL is the list's deep link: /devices[?label=k:v][&status=s][&limit=n]. */
function devicesURL(label: string, status: string, limit: number): string {
  const q = new URLSearchParams();
  if (label) q.set('label', label);
  if (status) q.set('status', status);
  if (limit !== DEFAULT_PAGE) q.set('limit', String(limit));
  const s = q.toString();
  return '/devices' + (s ? '?' + s : '');
}

export const DEFAULT_PAGE = 50;

export function Devices(props: { label: string; status: string; limit: number }) {
  const [items, setItems] = useState<Device[]>([]);
  const [next, setNext] = useState<string | null>(null);
  // cursors[i] is the cursor that fetched page i (page 0: none).
  const [cursors, setCursors] = useState<string[]>(['']);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [filter, setFilter] = useState(props.label);
  const [reload, setReload] = useState(0);
  const [confirm, setConfirm] = useState('');
  // A discovered camera put into the add form, and the ONVIF addresses added here.
  const [prefill, setPrefill] = useState<AddPrefill | null>(null);
  const [addedOnvif, setAddedOnvif] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    setFilter(props.label);
    setCursors(['']);
  }, [props.label, props.status, props.limit]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    api
      .listDevices({ limit: props.limit, cursor: cursor || undefined, label: props.label || undefined, status: props.status || undefined })
      .then((p) => {
        if (!live) return;
        setItems(p.items);
        setNext(p.next_cursor);
        setErr(null);
      })
      .catch((e) => live && setErr(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [cursor, props.label, props.status, props.limit, reload]);

  const remove = async (id: string) => {
    if (confirm !== id) {
      setConfirm(id);
      return;
    }
    setConfirm('');
    try {
      await api.deleteDevice(id);
      setReload((r) => r + 1);
    } catch (e) {
      setErr(e);
    }
  };

  return (
    <main>
      <h1>Devices</h1>
      <form
        class="filter"
        onSubmit={(e) => {
          e.preventDefault();
          const f = filter.trim();
          navigate(devicesURL(f, props.status, props.limit));
        }}
      >
        <label for="label-filter">Label</label>
        <input
          id="label-filter"
          placeholder="key:value"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <label for="status-filter">Status</label>
        <select
          id="status-filter"
          data-testid="status-filter"
          value={props.status}
          onChange={(e) => navigate(devicesURL(props.label, (e.target as HTMLSelectElement).value, props.limit))}
        >
          <option value="">any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
        {(props.label || props.status) && (
          <button type="button" onClick={() => navigate(devicesURL('', '', props.limit))}>
            Clear
          </button>
        )}
      </form>
      <ErrorBox error={err} />
      <table class="devices">
        <thead>
          <tr>
            <th>ID</th>
            <th>Name</th>
            <th>Status</th>
            <th>Channels</th>
            <th>Labels</th>
            {may('operator') && <th />}
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id} data-testid="device-row" data-device-id={d.id}>
              <td>
                <Link to={'/devices/' + encodeURIComponent(d.id)}>{d.id}</Link>
              </td>
              <td>{d.name}</td>
              <td>
                <StatusBadge status={d.status} />
              </td>
              <td>{d.channels}</td>
              <td>
                {Object.entries(d.labels).map(([k, v]) => (
                  <button
                    type="button"
                    class="label"
                    key={k}
                    title="filter by this label"
                    onClick={() => navigate(devicesURL(`${k}:${v}`, props.status, props.limit))}
                  >
                    {k}:{v}
                  </button>
                ))}
              </td>
              {may('operator') && (
                <td>
                  <button type="button" class="danger" data-testid="device-remove" onClick={() => remove(d.id)}>
                    {confirm === d.id ? 'Confirm remove' : 'Remove'}
                  </button>
                </td>
              )}
            </tr>
          ))}
          {!loading && items.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">
                No devices{props.label ? ' with label ' + props.label : ''}
                {props.status ? ` that are ${props.status}` : ''}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager">
        <button type="button" data-testid="page-prev" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← Previous
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" data-testid="page-next" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>
          Next →
        </button>
      </nav>
      {may('operator') && (
        <>
          <Discover added={addedOnvif} onAdd={(p) => setPrefill((old) => ({ ...p, n: (old?.n ?? 0) + 1 }))} />
          <AddDevice
            prefill={prefill}
            onAdded={(d) => {
              setReload((r) => r + 1);
              if (d.onvif) setAddedOnvif((xs) => [...xs, d.onvif as string]);
            }}
          />
        </>
      )}
    </main>
  );
}

/** fieldOf maps a problem's field ("labels.site") to the form field showing it. */
function fieldOf(f: string): string {
  const top = f.split('.')[0];
  return ['id', 'name', 'url', 'onvif', 'username', 'password', 'channels', 'labels'].includes(top) ? top : 'form';
}

type Mode = 'rtsp' | 'onvif';

/**
 * AddDevice registers a device by its RTSP URL, or by its ONVIF address:
 * then the gateway reads the camera with the username and password first
 * (its video sources become the channels) and a camera that refuses them,
 * answers a fault or is not ONVIF is a 502 naming password or onvif, shown
 * next to that field. prefill (a discovered camera) switches to ONVIF,
 * fills the address and name and puts the cursor into username.
 */
function AddDevice(props: { prefill: AddPrefill | null; onAdded: (d: Device) => void }) {
  const empty = { id: '', name: '', url: '', onvif: '', username: '', password: '', channels: '1', labels: '' };
  const [v, setV] = useState(empty);
  const [mode, setMode] = useState<Mode>('rtsp');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    const p = props.prefill;
    if (!p) return;
    setMode('onvif');
    setV((x) => ({ ...x, onvif: p.onvif, name: p.name }));
    setErrors({});
    setDone('');
    const user = form.current?.querySelector<HTMLInputElement>('#add-username');
    user?.focus();
    user?.scrollIntoView({ block: 'center' });
  }, [props.prefill?.n]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setDone('');
    const labels = parseLabels(v.labels);
    if (typeof labels === 'string') {
      setErrors({ labels });
      return;
    }
    const body: NewDevice = { name: v.name };
    if (mode === 'onvif') body.onvif = v.onvif.trim();
    else {
      body.url = v.url;
      const ch = Number(v.channels || '1');
      body.channels = Number.isFinite(ch) ? ch : 1;
    }
    if (v.id.trim()) body.id = v.id.trim();
    if (v.username) body.username = v.username;
    if (v.password) body.password = v.password;
    if (Object.keys(labels).length) body.labels = labels;
    setBusy(true);
    try {
      const d = await api.createDevice(body);
      setErrors({});
      setV(empty);
      const from = d.camera ? ` (${d.channels} channel${d.channels === 1 ? '' : 's'} of ${[d.camera.manufacturer, d.camera.model].filter(Boolean).join(' ')})` : '';
      setDone(`added ${d.id}${from}`);
      props.onAdded(d);
    } catch (ex) {
      if (ex instanceof ApiError) {
        let f = fieldOf(ex.field);
        // The other mode's address field is not on the form.
        if (mode === 'onvif' && f === 'url') f = 'onvif';
        if (mode === 'rtsp' && f === 'onvif') f = 'url';
        setErrors({ [f]: ex.detail || ex.title });
      } else setErrors({ form: String(ex) });
    } finally {
      setBusy(false);
    }
  };

  const field = (k: keyof typeof empty, label: string, type: 'text' | 'password' | 'number' = 'text', placeholder = '', autocomplete = 'off') => (
    <TextField
      id={'add-' + k}
      name={k}
      label={label}
      type={type}
      placeholder={placeholder}
      autocomplete={autocomplete}
      value={v[k]}
      errors={errors}
      onInput={(x) => setV({ ...v, [k]: x })}
    />
  );

  return (
    <form class="add-device" onSubmit={submit} data-testid="add-device" ref={form}>
      <h2>Add a device</h2>
      <fieldset class="add-mode" data-testid="add-mode">
        <legend>Add by</legend>
        <label>
          <input type="radio" name="add-mode" id="add-mode-rtsp" value="rtsp" checked={mode === 'rtsp'} onChange={() => setMode('rtsp')} /> RTSP URL
        </label>
        <label>
          <input type="radio" name="add-mode" id="add-mode-onvif" value="onvif" checked={mode === 'onvif'} onChange={() => setMode('onvif')} /> ONVIF address
        </label>
      </fieldset>
      {field('id', 'ID (optional)')}
      {field('name', 'Name')}
      {mode === 'rtsp'
        ? field('url', 'RTSP URL', 'text', 'rtsp://camera:554/stream')
        : field('onvif', 'ONVIF address', 'text', 'http://camera/onvif/device_service')}
      {field('username', 'Username')}
      {field('password', 'Password', 'password', '', 'new-password')}
      {mode === 'rtsp' ? (
        field('channels', 'Channels', 'number')
      ) : (
        <p class="hint add-hint">The camera is read first: one channel per video source it describes, with its stream and snapshot addresses.</p>
      )}
      {field('labels', 'Labels', 'text', 'site:hq, floor:2')}
      {errors.form && (
        <p class="field-error" data-testid="field-error">
          {errors.form}
        </p>
      )}
      <div class="add-actions">
        <button type="submit" disabled={busy} data-testid="add-submit">
          {busy ? (mode === 'onvif' ? 'Reading the camera…' : 'Adding…') : 'Add'}
        </button>
        {done && (
          <span class="ok" data-testid="add-done">
            {done}
          </span>
        )}
      </div>
    </form>
  );
}

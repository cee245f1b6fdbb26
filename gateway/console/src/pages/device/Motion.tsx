import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox } from '../../components';
import { FieldError, TextField, problemErrors, type Errors } from '../../forms';
import { deviceApi, type Motion, type MotionRequest, type MotionZone } from './http';
import './device.css';

/** Defaults the server puts in for zero values (actors/media/motion). */
const DEFAULT_SENSITIVITY = 0.5;
const DEFAULT_COOLDOWN_MS = 2000;

interface MotionForm {
  enabled: boolean;
  sensitivity: string; // "" = the default (0.5)
  zones: string; // JSON [[x,y,w,h],…]; "" = the whole picture
  minDuration: string; // "" = 0
  cooldown: string; // "" = the default (2000)
}

function formOf(m: Motion | null): MotionForm {
  if (!m) return { enabled: false, sensitivity: '', zones: '', minDuration: '', cooldown: '' };
  return {
    enabled: m.enabled,
    sensitivity: m.sensitivity ? String(m.sensitivity) : '',
    zones: m.zones.length ? JSON.stringify(m.zones) : '',
    minDuration: m.min_duration_ms ? String(m.min_duration_ms) : '',
    cooldown: m.cooldown_ms ? String(m.cooldown_ms) : '',
  };
}

/** parseZones reads the zones text: a JSON array of [x, y, w, h] (their bounds are the server's to check). */
function parseZones(s: string): MotionZone[] | string {
  const t = s.trim();
  if (t === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return 'zones must be JSON: [[x, y, w, h], …] in 0..1 of the picture, e.g. [[0,0,0.6,1]]';
  }
  if (!Array.isArray(v)) return 'zones must be a list of [x, y, w, h]';
  for (const [i, z] of v.entries()) {
    if (!Array.isArray(z) || z.length !== 4 || !z.every((x) => typeof x === 'number' && Number.isFinite(x)))
      return `zones[${i}] must be four numbers [x, y, w, h]`;
  }
  return v as MotionZone[];
}

/** bodyOf is the MotionRequest of the form, or what is wrong with it (by field). */
function bodyOf(f: MotionForm): { body: MotionRequest } | { errors: Errors } {
  const body: MotionRequest = { enabled: f.enabled };
  const sens = f.sensitivity.trim();
  if (sens !== '') {
    const n = Number(sens);
    if (!Number.isFinite(n)) return { errors: { sensitivity: 'sensitivity must be a number 0..1' } };
    body.sensitivity = n;
  }
  const zones = parseZones(f.zones);
  if (typeof zones === 'string') return { errors: { zones } };
  body.zones = zones;
  for (const [k, name] of [
    ['minDuration', 'min_duration_ms'],
    ['cooldown', 'cooldown_ms'],
  ] as const) {
    const s = f[k].trim();
    if (s === '') continue;
    const n = Number(s);
    if (!Number.isInteger(n)) return { errors: { [name]: `${name} must be a whole number of milliseconds` } };
    body[name] = n;
  }
  return { body };
}

const FIELDS = ['enabled', 'sensitivity', 'zones', 'min_duration_ms', 'cooldown_ms'];
const fieldOf = (f: string) => (FIELDS.includes(f) ? f : /^zones\b/.test(f) ? 'zones' : 'form');

/**
 * MotionPanel is a channel's motion detection (GET/PUT …/motion): Argus
 * decodes the channel and raises its alarm type (video_motion) while
 * something moves. Operators edit it; viewers see it.
 */
export function MotionPanel(props: { device: string; channel: number; canEdit: boolean }) {
  // undefined: not read yet
  const [motion, setMotion] = useState<Motion | undefined>(undefined);
  const [loadErr, setLoadErr] = useState<unknown>(null);
  const [form, setForm] = useState<MotionForm>(() => formOf(null));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const dirty = useRef(false);

  useEffect(() => {
    let live = true;
    dirty.current = false;
    setMotion(undefined);
    setErrors({});
    setNote('');
    deviceApi
      .getMotion(props.device, props.channel)
      .then((m) => {
        if (!live) return;
        setMotion(m);
        setLoadErr(null);
        if (!dirty.current) setForm(formOf(m));
      })
      .catch((e) => live && setLoadErr(e));
    return () => {
      live = false;
    };
  }, [props.device, props.channel]);

  const edit = (f: Partial<MotionForm>) => {
    dirty.current = true;
    setNote('');
    setForm({ ...form, ...f });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setNote('');
    const r = bodyOf(form);
    if ('errors' in r) {
      setErrors(r.errors);
      return;
    }
    setBusy(true);
    try {
      const m = await deviceApi.putMotion(props.device, props.channel, r.body);
      dirty.current = false;
      setErrors({});
      setMotion(m);
      setForm(formOf(m));
      setNote('saved');
    } catch (ex) {
      setErrors(problemErrors(ex, fieldOf));
    } finally {
      setBusy(false);
    }
  };

  const on = motion?.enabled === true;
  const sliderValue = form.sensitivity.trim() === '' || !Number.isFinite(Number(form.sensitivity)) ? String(DEFAULT_SENSITIVITY) : form.sensitivity;
  return (
    <section class="panel motion" data-testid="motion">
      <h2>Motion detection · channel {props.channel}</h2>
      <dl class="props">
        <dt>State</dt>
        <dd>
          <span class={on ? 'rec-state rec-on' : 'rec-state'} data-testid="motion-state">
            {motion === undefined ? '…' : on ? 'enabled' : 'disabled'}
          </span>
          {motion && <span class="hint"> raises {motion.alarm_type} alarms while something moves</span>}
        </dd>
        {!props.canEdit && motion && (
          <>
            <dt>Sensitivity</dt>
            <dd>{motion.sensitivity || `${DEFAULT_SENSITIVITY} (default)`}</dd>
            <dt>Zones</dt>
            <dd>{motion.zones.length ? JSON.stringify(motion.zones) : 'the whole picture'}</dd>
            <dt>Min duration</dt>
            <dd>{motion.min_duration_ms} ms</dd>
            <dt>Cooldown</dt>
            <dd>{motion.cooldown_ms ? `${motion.cooldown_ms} ms` : `${DEFAULT_COOLDOWN_MS} ms (default)`}</dd>
          </>
        )}
      </dl>
      <ErrorBox error={loadErr} />
      {props.canEdit && motion !== undefined && (
        <form class="motion-form" onSubmit={submit}>
          <div class={errors.enabled ? 'field invalid' : 'field'}>
            <label class="check">
              <input type="checkbox" id="motion-enabled" name="enabled" data-testid="motion-enabled" checked={form.enabled} onChange={(e) => edit({ enabled: (e.target as HTMLInputElement).checked })} />
              Enabled
            </label>
            <FieldError errors={errors} field="enabled" />
          </div>
          <div class={errors.sensitivity ? 'field invalid' : 'field'}>
            <label for="motion-sensitivity">Sensitivity (0..1; higher: smaller changes count)</label>
            <span class="motion-sensitivity">
              <input
                type="range"
                min="0"
                max="1"
                step="0.05"
                aria-label="sensitivity"
                value={sliderValue}
                onInput={(e) => edit({ sensitivity: (e.target as HTMLInputElement).value })}
              />
              <input
                type="number"
                id="motion-sensitivity"
                name="sensitivity"
                data-testid="motion-sensitivity"
                min="0"
                max="1"
                step="0.01"
                placeholder={`${DEFAULT_SENSITIVITY} (default)`}
                value={form.sensitivity}
                onInput={(e) => edit({ sensitivity: (e.target as HTMLInputElement).value })}
                aria-invalid={errors.sensitivity ? 'true' : undefined}
              />
            </span>
            <FieldError errors={errors} field="sensitivity" />
          </div>
          <TextField
            id="motion-min-duration"
            name="min_duration_ms"
            label="Min duration (ms)"
            type="number"
            placeholder="0"
            testid="motion-min-duration"
            value={form.minDuration}
            errors={errors}
            onInput={(x) => edit({ minDuration: x })}
          />
          <TextField
            id="motion-cooldown"
            name="cooldown_ms"
            label="Cooldown (ms)"
            type="number"
            placeholder={`${DEFAULT_COOLDOWN_MS} (default)`}
            testid="motion-cooldown"
            value={form.cooldown}
            errors={errors}
            onInput={(x) => edit({ cooldown: x })}
          />
          <div class="motion-zones-field">
            <TextField
              id="motion-zones"
              name="zones"
              label="Zones [[x, y, w, h], …] in 0..1"
              placeholder="the whole picture, e.g. [[0,0,0.6,1]]"
              testid="motion-zones"
              value={form.zones}
              errors={errors}
              onInput={(x) => edit({ zones: x })}
            />
          </div>
          <div class="panel-actions">
            <button type="submit" disabled={busy} data-testid="motion-save">
              {busy ? 'Saving…' : 'Save motion detection'}
            </button>
            {note && <span class="ok">{note}</span>}
            <FieldError errors={errors} field="form" />
          </div>
        </form>
      )}
    </section>
  );
}

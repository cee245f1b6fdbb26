import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import { ErrorBox } from '../../components';
import { deviceApi, PLAN_MODES, WEEKDAYS, type Plan, type PlanRequest } from './http';
import { Conflict, FieldError, TextField, problemErrors, type Errors } from '../../forms';
import { browserTimezone, stamp } from './time';
import './device.css';

/** POLL_MS: how often the plan (and so whether it records) is read again. */
const POLL_MS = 5000;

interface WindowForm {
  days: string[];
  start: string;
  end: string;
}

interface PlanForm {
  mode: string;
  windows: WindowForm[];
  timezone: string;
  segment: string; // "" = the server's default
  retention: string; // "" = the server's default
  preroll: string; // mode event; "" = the server's default (5)
  postroll: string; // mode event; "" = the server's default (10)
  triggers: string; // mode event; alarm types, comma-separated; "" = any alarm
  audio: boolean; // record the camera's audio
}

/** TRIGGER_HINT names the alarm types an event plan is usually started by. */
const TRIGGER_HINT = 'alarm types, comma-separated: motion, video_motion, input, tamper…; empty: any alarm';

const NEW_WINDOW: WindowForm = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '18:00' };

function formOf(p: Plan | null): PlanForm {
  if (!p)
    return { mode: 'continuous', windows: [], timezone: browserTimezone(), segment: '', retention: '', preroll: '', postroll: '', triggers: '', audio: true };
  return {
    mode: p.mode,
    windows: p.schedule.map((w) => ({ days: [...w.days], start: w.start, end: w.end })),
    timezone: p.timezone,
    segment: String(p.segment_seconds),
    retention: String(p.retention_days),
    preroll: p.event ? String(p.event.pre_roll_seconds) : '',
    postroll: p.event ? String(p.event.post_roll_seconds) : '',
    triggers: p.event ? p.event.triggers.join(', ') : '',
    audio: p.audio,
  };
}

/**
 * fieldOf maps a problem's field to the input showing it: a window's
 * "schedule[1].days[0]" goes to that row's days, "schedule[0].start" to its
 * start, any "event.triggers[i]" to the triggers; other names are the
 * form's own.
 */
function fieldOf(f: string): string {
  const m = /^schedule\[(\d+)\]\.(days|start|end)/.exec(f);
  if (m) return `schedule[${m[1]}].${m[2]}`;
  if (/^event\.triggers(\[\d+\])?$/.test(f)) return 'event.triggers';
  return ['mode', 'schedule', 'timezone', 'segment_seconds', 'retention_days', 'event.pre_roll_seconds', 'event.post_roll_seconds'].includes(f) ? f : 'form';
}

/** wholeNumber reads an optional integer input ("" = absent, the server's default). */
function wholeNumber(s: string, name: string): { n?: number } | { error: string } {
  const t = s.trim();
  if (t === '') return {};
  const n = Number(t);
  // Checked here: a non-number would go out as null, which means "the default".
  return Number.isInteger(n) ? { n } : { error: `${name} must be a whole number` };
}

/** bodyOf is the PlanRequest of the form; windows go with modes schedule and event, event settings with event. */
function bodyOf(f: PlanForm): { body: PlanRequest } | { errors: Errors } {
  const body: PlanRequest = { mode: f.mode, timezone: f.timezone.trim(), audio: f.audio };
  if (f.mode === 'schedule' || f.mode === 'event')
    body.schedule = f.windows.map((w) => ({ days: WEEKDAYS.filter((d) => w.days.includes(d)), start: w.start.trim(), end: w.end.trim() }));
  for (const [k, name] of [
    ['segment', 'segment_seconds'],
    ['retention', 'retention_days'],
  ] as const) {
    const r = wholeNumber(f[k], name);
    if ('error' in r) return { errors: { [name]: r.error } };
    if (r.n !== undefined) body[name] = r.n;
  }
  if (f.mode === 'event') {
    const ev: NonNullable<PlanRequest['event']> = {
      triggers: f.triggers
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    };
    for (const [k, name] of [
      ['preroll', 'pre_roll_seconds'],
      ['postroll', 'post_roll_seconds'],
    ] as const) {
      const r = wholeNumber(f[k], name);
      if ('error' in r) return { errors: { ['event.' + name]: r.error } };
      if (r.n !== undefined) ev[name] = r.n;
    }
    body.event = ev;
  }
  return { body };
}

let zones: string[] | null = null;
function timezones(): string[] {
  if (zones === null) {
    try {
      zones = Intl.supportedValuesOf('timeZone');
    } catch {
      zones = [];
    }
  }
  return zones;
}

/**
 * PlanEditor shows a channel's recording plan (re-read every 5 s, so
 * "recording" follows the schedule, or an event plan's alarms) and lets
 * operators replace it: mode event takes a pre-roll, a post-roll, the
 * trigger alarm types and optional windows that arm it. The form follows
 * the server until it is edited; the save is guarded by the plan's version
 * (If-Match) once a plan exists.
 */
export function PlanEditor(props: { device: string; channel: number; canEdit: boolean }) {
  // undefined: not read yet; null: the channel has no plan.
  const [plan, setPlan] = useState<Plan | null | undefined>(undefined);
  const [loadErr, setLoadErr] = useState<unknown>(null);
  const [form, setForm] = useState<PlanForm>(() => formOf(null));
  const [base, setBase] = useState<number | null>(null); // the plan version the form was taken from
  const dirty = useRef(false);
  const [errors, setErrors] = useState<Errors>({});
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const [reload, setReload] = useState(0);

  const adopt = (p: Plan | null) => {
    setPlan(p);
    if (!dirty.current) {
      setForm(formOf(p));
      setBase(p ? p.version : null);
    }
  };

  // Another channel starts from its own plan (declared first: runs before the load).
  useEffect(() => {
    dirty.current = false;
    setPlan(undefined);
    setErrors({});
    setConflict(false);
    setNote('');
  }, [props.device, props.channel]);

  useEffect(() => {
    let live = true;
    const load = () =>
      deviceApi
        .getPlan(props.device, props.channel)
        .then((p) => live && (adopt(p), setLoadErr(null)))
        .catch((e) => live && setLoadErr(e));
    load();
    const t = window.setInterval(load, POLL_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [props.device, props.channel, reload]);

  const edit = (f: PlanForm) => {
    dirty.current = true;
    setNote('');
    setForm(f);
  };
  const editWindow = (i: number, w: Partial<WindowForm>) => edit({ ...form, windows: form.windows.map((x, j) => (j === i ? { ...x, ...w } : x)) });
  const toggleDay = (i: number, d: string, on: boolean) => {
    const days = form.windows[i].days.filter((x) => x !== d);
    editWindow(i, { days: on ? [...days, d] : days });
  };

  const discard = () => {
    dirty.current = false;
    setErrors({});
    setConflict(false);
    setNote('');
    setReload((r) => r + 1);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setNote('');
    setConflict(false);
    const r = bodyOf(form);
    if ('errors' in r) {
      setErrors(r.errors);
      return;
    }
    setBusy(true);
    try {
      const p = await deviceApi.putPlan(props.device, props.channel, r.body, base);
      dirty.current = false;
      setErrors({});
      setNote(`saved (version ${p.version})`);
      adopt(p);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 412) {
        setErrors({});
        setConflict(true);
      } else setErrors(problemErrors(ex, fieldOf));
    } finally {
      setBusy(false);
    }
  };

  const recording = plan?.recording === true;
  const input = (
    k: 'timezone' | 'segment' | 'retention' | 'preroll' | 'postroll' | 'triggers',
    name: string,
    label: string,
    type: 'text' | 'number',
    placeholder: string,
    o: { id?: string; testid?: string; hint?: string } = {},
  ) => (
    <TextField
      id={o.id ?? 'plan-' + name}
      name={name}
      label={label}
      type={type}
      placeholder={placeholder}
      list={k === 'timezone' ? 'plan-timezones' : undefined}
      value={form[k]}
      errors={errors}
      testid={o.testid}
      hint={o.hint}
      onInput={(x) => edit({ ...form, [k]: x })}
    />
  );
  const event = form.mode === 'event';

  return (
    <section class="panel plan" data-testid="plan-editor">
      <h2>Recording plan · channel {props.channel}</h2>
      <dl class="props">
        <dt>State</dt>
        <dd>
          <span class={recording ? 'rec-state rec-on' : 'rec-state'} data-testid="plan-state">
            {recording ? 'recording' : 'idle'}
          </span>
        </dd>
        <dt>Mode</dt>
        <dd data-testid="plan-current-mode">{plan ? plan.mode : plan === null ? 'no plan yet' : '…'}</dd>
        <dt>Next change</dt>
        <dd>{plan?.next_change ? stamp(Date.parse(plan.next_change)) : '—'}</dd>
        {plan && (
          <>
            <dt>Version</dt>
            <dd>{plan.version}</dd>
          </>
        )}
      </dl>
      <ErrorBox error={loadErr} />
      {!props.canEdit && plan && <PlanSummary plan={plan} />}
      {props.canEdit && plan !== undefined && (
        <form class="plan-form" onSubmit={submit}>
          <div class={errors.mode ? 'field invalid' : 'field'}>
            <label for="plan-mode">Mode</label>
            <select
              id="plan-mode"
              name="mode"
              data-testid="plan-mode"
              value={form.mode}
              onChange={(e) => {
                const mode = (e.target as HTMLSelectElement).value;
                // A schedule needs a window: start with a working-hours one.
                edit({ ...form, mode, windows: mode === 'schedule' && form.windows.length === 0 ? [{ ...NEW_WINDOW }] : form.windows });
              }}
            >
              {PLAN_MODES.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
            <FieldError errors={errors} field="mode" />
          </div>
          {input('timezone', 'timezone', 'Time zone', 'text', browserTimezone())}
          {input('segment', 'segment_seconds', 'Segment (s)', 'number', '60 (default)')}
          {input('retention', 'retention_days', 'Retention (days)', 'number', '7 (default)')}
          <div class="field">
            <label>
              <input
                type="checkbox"
                data-testid="plan-audio"
                checked={form.audio}
                onChange={(e) => edit({ ...form, audio: (e.target as HTMLInputElement).checked })}
              />{' '}
              Record audio
            </label>
          </div>
          {event && (
            <>
              {input('preroll', 'event.pre_roll_seconds', 'Pre-roll (s, 0..30)', 'number', '5 (default)', { id: 'plan-preroll', testid: 'plan-preroll' })}
              {input('postroll', 'event.post_roll_seconds', 'Post-roll (s, 0..300)', 'number', '10 (default)', { id: 'plan-postroll', testid: 'plan-postroll' })}
              {input('triggers', 'event.triggers', 'Triggers', 'text', 'any alarm', { id: 'plan-triggers', testid: 'plan-triggers', hint: TRIGGER_HINT })}
            </>
          )}
          <datalist id="plan-timezones">
            {timezones().map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          {(form.mode === 'schedule' || event) && (
            <fieldset class="plan-windows">
              <legend>
                Weekly windows ({form.timezone || 'UTC'}; an end at or before the start runs past midnight)
                {event && ': they arm event recording (optional)'}
              </legend>
              {event && (
                <p class="hint" data-testid="plan-windows-note">
                  {form.windows.length === 0 ? 'No windows: armed always.' : 'Alarms start recordings only within these windows.'}
                </p>
              )}
              {form.windows.map((w, i) => (
                <div class="plan-window" key={i} data-testid="plan-window" data-index={i}>
                  <span class="days">
                    {WEEKDAYS.map((d) => (
                      <label key={d} class="day">
                        <input
                          type="checkbox"
                          name={`schedule[${i}].days`}
                          value={d}
                          checked={w.days.includes(d)}
                          onChange={(e) => toggleDay(i, d, (e.target as HTMLInputElement).checked)}
                        />
                        {d}
                      </label>
                    ))}
                  </span>
                  <label>
                    from{' '}
                    <input
                      class="hhmm"
                      name={`schedule[${i}].start`}
                      placeholder="HH:MM"
                      inputMode="numeric"
                      value={w.start}
                      onInput={(e) => editWindow(i, { start: (e.target as HTMLInputElement).value })}
                      aria-invalid={errors[`schedule[${i}].start`] ? 'true' : undefined}
                    />
                  </label>
                  <label>
                    to{' '}
                    <input
                      class="hhmm"
                      name={`schedule[${i}].end`}
                      placeholder="HH:MM"
                      inputMode="numeric"
                      value={w.end}
                      onInput={(e) => editWindow(i, { end: (e.target as HTMLInputElement).value })}
                      aria-invalid={errors[`schedule[${i}].end`] ? 'true' : undefined}
                    />
                  </label>
                  <button type="button" class="danger" data-testid="plan-window-remove" onClick={() => edit({ ...form, windows: form.windows.filter((_, j) => j !== i) })}>
                    Remove
                  </button>
                  <FieldError errors={errors} field={`schedule[${i}].days`} />
                  <FieldError errors={errors} field={`schedule[${i}].start`} />
                  <FieldError errors={errors} field={`schedule[${i}].end`} />
                </div>
              ))}
              <button type="button" data-testid="plan-window-add" onClick={() => edit({ ...form, windows: [...form.windows, { ...NEW_WINDOW, days: [...NEW_WINDOW.days] }] })}>
                Add window
              </button>
              <FieldError errors={errors} field="schedule" />
            </fieldset>
          )}
          <div class="panel-actions">
            <button type="submit" disabled={busy} data-testid="plan-save">
              {busy ? 'Saving…' : plan ? 'Save plan' : 'Create plan'}
            </button>
            {dirty.current && (
              <button type="button" onClick={discard}>
                Discard changes
              </button>
            )}
            {note && <span class="ok">{note}</span>}
            <FieldError errors={errors} field="form" />
          </div>
          {conflict && <Conflict what="plan" onReload={discard} />}
        </form>
      )}
    </section>
  );
}

/** PlanSummary is the plan for those who cannot change it. */
function PlanSummary(props: { plan: Plan }) {
  const p = props.plan;
  return (
    <dl class="props">
      <dt>Time zone</dt>
      <dd>{p.timezone}</dd>
      <dt>Segments</dt>
      <dd>{p.segment_seconds} s</dd>
      <dt>Retention</dt>
      <dd>
        {p.retention_days} day{p.retention_days === 1 ? '' : 's'}
      </dd>
      <dt>Audio</dt>
      <dd>{p.audio ? 'recorded' : 'not recorded'}</dd>
      {p.mode === 'event' && p.event && (
        <>
          <dt>Pre-roll</dt>
          <dd>{p.event.pre_roll_seconds} s</dd>
          <dt>Post-roll</dt>
          <dd>{p.event.post_roll_seconds} s</dd>
          <dt>Triggers</dt>
          <dd>{p.event.triggers.length ? p.event.triggers.join(', ') : 'any alarm'}</dd>
        </>
      )}
      {(p.mode === 'schedule' || p.mode === 'event') && (
        <>
          <dt>Windows</dt>
          <dd>
            {p.schedule.length === 0 && 'none: armed always'}
            {p.schedule.map((w, i) => (
              <div key={i}>
                {w.days.join(', ')} {w.start}–{w.end}
              </div>
            ))}
          </dd>
        </>
      )}
    </dl>
  );
}

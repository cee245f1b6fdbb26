import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api';
import { FieldError, type Errors } from '../../forms';
import { deviceApi, type PTZPreset, type PTZRequest, type PTZStatus, type PTZVector } from './http';
import './device.css';

/** SPEED is the velocity of the pad's moves (ONVIF generic space, -1..1). */
const SPEED = 0.5;
/** A held move is sent again every REPEAT_MS, each lasting TIMEOUT_MS: the camera stops by itself if the page goes. */
const REPEAT_MS = 600;
const TIMEOUT_MS = 1000;
/** A press shorter than CLICK_MS still moves for CLICK_MS: a click is a short move. */
const CLICK_MS = 300;
/** How often the position is read while the pad is visible (and while a move is under way). */
const POLL_MS = 1500;
const POLL_MOVING_MS = 500;

const problemText = (e: unknown) => (e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));
const num = (x: number) => (Object.is(x, -0) ? 0 : x).toFixed(3);

/** useVisible: the element is on screen and the page is not hidden. */
function useVisible(ref: RefObject<HTMLElement | null>): boolean {
  const [onScreen, setOnScreen] = useState(true);
  const [shown, setShown] = useState(() => document.visibilityState !== 'hidden');
  useEffect(() => {
    const vis = () => setShown(document.visibilityState !== 'hidden');
    document.addEventListener('visibilitychange', vis);
    let io: IntersectionObserver | undefined;
    if (ref.current && typeof IntersectionObserver !== 'undefined') {
      io = new IntersectionObserver((es) => setOnScreen(es.some((e) => e.isIntersecting)));
      io.observe(ref.current);
    }
    return () => {
      document.removeEventListener('visibilitychange', vis);
      io?.disconnect();
    };
  }, []);
  return onScreen && shown;
}

interface Hold {
  name: string;
  v: PTZVector;
  t0: number;
  timer: number;
}

const MOVES: { name: string; label: string; title: string; v: PTZVector }[] = [
  { name: 'up', label: '▲', title: 'tilt up', v: { tilt: SPEED } },
  { name: 'left', label: '◀', title: 'pan left', v: { pan: -SPEED } },
  { name: 'right', label: '▶', title: 'pan right', v: { pan: SPEED } },
  { name: 'down', label: '▼', title: 'tilt down', v: { tilt: -SPEED } },
  { name: 'zoom-in', label: 'Zoom +', title: 'zoom in', v: { zoom: SPEED } },
  { name: 'zoom-out', label: 'Zoom −', title: 'zoom out', v: { zoom: -SPEED } },
];

/**
 * PTZPad drives a channel's pan/tilt/zoom head (operators): holding an
 * arrow or zoom button is a continuous move, sent again every REPEAT_MS
 * with a TIMEOUT_MS timeout while held and stopped on release; a click
 * moves for CLICK_MS. Home, Stop, the presets (go to, save the current
 * position under a name, delete). Everyone sees the position (GET …/ptz,
 * read while the pad is on screen) and the presets. Commands go out one
 * after the other, so a stop never overtakes the move it ends.
 */
export function PTZPad(props: { device: string; channel: number; canControl: boolean }) {
  const { device, channel, canControl } = props;
  const root = useRef<HTMLDivElement>(null);
  const visible = useVisible(root);
  const [status, setStatus] = useState<PTZStatus | null>(null);
  const [err, setErr] = useState('');
  const [poke, setPoke] = useState(0);
  const [active, setActive] = useState('');
  const [presets, setPresets] = useState<PTZPreset[] | null>(null);
  const [presetsErr, setPresetsErr] = useState('');
  const [presetName, setPresetName] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [saving, setSaving] = useState(false);
  const [confirm, setConfirm] = useState('');
  const [note, setNote] = useState('');

  const hold = useRef<Hold | null>(null);
  const stopTimer = useRef<number | undefined>(undefined);
  const chain = useRef<Promise<void>>(Promise.resolve());
  const pending = useRef(0);
  const moving = useRef(false);
  const alive = useRef(true);

  /** send queues a command; a repeat is dropped while another command is still under way. */
  const send = (cmd: PTZRequest, repeat = false) => {
    if (repeat && pending.current > 0) return;
    pending.current++;
    chain.current = chain.current
      .then(() => deviceApi.ptz(device, channel, cmd))
      .then(
        () => {
          if (alive.current) setErr('');
        },
        (e) => {
          if (alive.current) setErr(problemText(e));
        },
      )
      .finally(() => {
        pending.current--;
        if (alive.current) setPoke((p) => p + 1);
      });
  };

  const clearStop = () => {
    if (stopTimer.current !== undefined) clearTimeout(stopTimer.current);
    stopTimer.current = undefined;
  };

  const start = (name: string, v: PTZVector) => {
    if (hold.current) release();
    clearStop();
    const move = (repeat: boolean) => send({ continuous: { ...v, timeout_ms: TIMEOUT_MS } }, repeat);
    move(false);
    hold.current = { name, v, t0: performance.now(), timer: window.setInterval(() => move(true), REPEAT_MS) };
    moving.current = true;
    setActive(name);
  };

  function release() {
    const h = hold.current;
    if (!h) return;
    hold.current = null;
    clearInterval(h.timer);
    setActive('');
    const left = CLICK_MS - (performance.now() - h.t0);
    if (left > 0)
      stopTimer.current = window.setTimeout(() => {
        stopTimer.current = undefined;
        send({ stop: true });
      }, left);
    else send({ stop: true });
  }

  const stopNow = () => {
    if (hold.current) {
      clearInterval(hold.current.timer);
      hold.current = null;
      setActive('');
    }
    clearStop();
    send({ stop: true });
  };

  // Leaving the page (or the tab losing focus) mid-move stops it.
  useEffect(() => {
    alive.current = true;
    const blur = () => release();
    window.addEventListener('blur', blur);
    return () => {
      alive.current = false;
      window.removeEventListener('blur', blur);
      if (hold.current || stopTimer.current !== undefined) {
        if (hold.current) clearInterval(hold.current.timer);
        hold.current = null;
        clearStop();
        deviceApi.ptz(device, channel, { stop: true }).catch(() => {});
      }
    };
  }, []);

  // The position, read while the pad is on screen: at once after each
  // command, faster while the head moves.
  useEffect(() => {
    if (!visible) return;
    let live = true;
    let timer: number | undefined;
    const read = async () => {
      try {
        const st = await deviceApi.ptzStatus(device, channel);
        if (!live) return;
        setStatus(st);
        moving.current = st.moving;
      } catch (e) {
        if (live) setErr(problemText(e));
      }
      if (live) timer = window.setTimeout(read, moving.current || hold.current ? POLL_MOVING_MS : POLL_MS);
    };
    read();
    return () => {
      live = false;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [device, channel, visible, poke]);

  const loadPresets = async () => {
    try {
      const r = await deviceApi.ptzPresets(device, channel);
      if (!alive.current) return;
      setPresets([...r.items].sort((a, b) => a.name.localeCompare(b.name)));
      setPresetsErr('');
    } catch (e) {
      if (alive.current) setPresetsErr(problemText(e));
    }
  };
  useEffect(() => {
    loadPresets();
  }, [device, channel]);

  const save = async (e: Event) => {
    e.preventDefault();
    const name = presetName.trim();
    if (!name) {
      setErrors({ name: 'give the preset a name' });
      return;
    }
    setSaving(true);
    setNote('');
    try {
      // After the commands sent so far: the preset is where they left the head.
      await chain.current;
      const p = await deviceApi.setPreset(device, channel, name);
      setErrors({});
      setPresetName('');
      setNote(`saved ${p.name}`);
      await loadPresets();
    } catch (ex) {
      setErrors({ name: problemText(ex) });
    } finally {
      setSaving(false);
    }
  };

  const remove = async (name: string) => {
    if (confirm !== name) {
      setConfirm(name);
      return;
    }
    setConfirm('');
    setNote('');
    try {
      await deviceApi.removePreset(device, channel, name);
      setNote(`removed ${name}`);
      await loadPresets();
    } catch (ex) {
      setPresetsErr(problemText(ex));
    }
  };

  const pos = status?.position;
  const moveButton = (m: (typeof MOVES)[number]) => (
    <button
      type="button"
      key={m.name}
      class={'ptz-' + m.name + (active === m.name ? ' held' : '')}
      data-testid={'ptz-' + m.name}
      title={`${m.title} (hold to keep moving)`}
      aria-label={m.title}
      onPointerDown={(e) => {
        if (e.button !== 0) return;
        e.preventDefault();
        (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
        start(m.name, m.v);
      }}
      onPointerUp={release}
      onPointerCancel={release}
      onLostPointerCapture={release}
      onContextMenu={(e) => e.preventDefault()}
      onKeyDown={(e) => {
        if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
          e.preventDefault();
          start(m.name, m.v);
        }
      }}
      onKeyUp={(e) => {
        if (e.key === ' ' || e.key === 'Enter') {
          e.preventDefault();
          release();
        }
      }}
    >
      {m.label}
    </button>
  );
  const byName = (n: string) => MOVES.find((m) => m.name === n)!;

  return (
    <div class="ptz" data-testid="ptz" ref={root}>
      <h3>PTZ</h3>
      {canControl && (
        <div class="ptz-controls">
          <div class="ptz-pad">
            {moveButton(byName('up'))}
            {moveButton(byName('left'))}
            <button type="button" class="ptz-stop" data-testid="ptz-stop" title="stop" onClick={stopNow}>
              ■
            </button>
            {moveButton(byName('right'))}
            {moveButton(byName('down'))}
          </div>
          <div class="ptz-side">
            {moveButton(byName('zoom-in'))}
            {moveButton(byName('zoom-out'))}
            <button type="button" data-testid="ptz-home" title="go to the home position" onClick={() => send({ home: true })}>
              Home
            </button>
          </div>
        </div>
      )}
      <p
        class="ptz-position"
        data-testid="ptz-position"
        data-pan={pos ? String(pos.pan) : undefined}
        data-tilt={pos ? String(pos.tilt) : undefined}
        data-zoom={pos ? String(pos.zoom) : undefined}
        data-moving={status ? String(status.moving) : undefined}
      >
        {pos ? (
          <>
            pan {num(pos.pan)} · tilt {num(pos.tilt)} · zoom {num(pos.zoom)}
            {status?.moving && <span class="ptz-moving"> · moving</span>}
          </>
        ) : (
          'position: reading…'
        )}
      </p>
      {err && (
        <p class="error" data-testid="ptz-error" role="alert">
          {err}
        </p>
      )}
      <h4>Presets</h4>
      {presetsErr && <p class="error">{presetsErr}</p>}
      {presets && presets.length === 0 && <p class="empty">No presets.</p>}
      {presets && presets.length > 0 && (
        <ul class="ptz-presets">
          {presets.map((p) => (
            <li key={p.token} data-testid="ptz-preset" data-name={p.name}>
              <span class="ptz-preset-name">{p.name}</span>
              {p.position && (
                <span class="hint">
                  {' '}
                  {num(p.position.pan)}, {num(p.position.tilt)}, {num(p.position.zoom)}
                </span>
              )}
              {canControl && (
                <span class="ptz-preset-actions">
                  <button type="button" data-testid="ptz-preset-goto" onClick={() => send({ preset: p.name })}>
                    Go to
                  </button>
                  <button type="button" class="danger" data-testid="ptz-preset-delete" onClick={() => remove(p.name)}>
                    {confirm === p.name ? 'Confirm delete' : 'Delete'}
                  </button>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      {canControl && (
        <form class="ptz-save" onSubmit={save}>
          <div class={errors.name ? 'field invalid' : 'field'}>
            <label for="ptz-preset-name">Save current position as…</label>
            <input
              id="ptz-preset-name"
              data-testid="ptz-preset-name"
              maxLength={64}
              placeholder="preset name"
              autocomplete="off"
              value={presetName}
              onInput={(e) => setPresetName((e.target as HTMLInputElement).value)}
              aria-invalid={errors.name ? 'true' : undefined}
            />
            <FieldError errors={errors} field="name" />
          </div>
          <button type="submit" data-testid="ptz-preset-save" disabled={saving}>
            {saving ? 'Saving…' : 'Save'}
          </button>
          {note && <span class="ok">{note}</span>}
        </form>
      )}
    </div>
  );
}

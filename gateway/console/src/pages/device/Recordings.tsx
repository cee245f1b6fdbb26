import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox } from '../../components';
import { alarmsIn, deviceApi, RECORDINGS_CAP } from './http';
import { Timeline, type AlarmMark, type Segment } from './Timeline';
import { Playback, type Selection } from './Playback';
import { Download, type Prefill } from './Download';
import { DAY, HOUR, MINUTE, dayString, dayWindow, duration, parseDay, stamp } from './time';
import './device.css';

/** REFRESH_MS: how often a window that includes now is read again. */
const REFRESH_MS = 10000;
/** WAITING_MS: how often while ?t= waits for its recording (an alarm a moment ago). */
const WAITING_MS = 2000;

/** windowOf is the timeline's window: the given local day, else the 24 h up to now. */
function windowOf(day: string | null, now: number): { from: number; to: number } {
  const d = parseDay(day);
  return d ? dayWindow(d) : { from: now - DAY, to: now };
}

interface Data {
  from: number;
  to: number;
  segments: Segment[];
}

/**
 * Recordings is the channel's recorded video: a timeline of the segments
 * in a window (?day=YYYY-MM-DD, else the last 24 h) with the alarms of the
 * channel (or of the whole device) raised in it, click-to-play, and a range
 * download. `at` (the page's ?t=, unix ms) plays from that instant once the
 * window has a recording after it. `live` is laid out beside the playback
 * player.
 */
export function Recordings(props: {
  device: string;
  channel: number;
  day: string | null;
  at?: number | null;
  onDay: (day: string | null) => void;
  live: ComponentChildren;
}) {
  const day = parseDay(props.day) ? props.day : null;
  const [now, setNow] = useState(() => Date.now());
  const [data, setData] = useState<Data | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [sel, setSel] = useState<Selection | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [note, setNote] = useState('');
  const [prefill, setPrefill] = useState<Prefill | null>(null);
  const [marks, setMarks] = useState<AlarmMark[]>([]);
  // The ?t= already played from (device, channel, day and instant).
  const started = useRef('');
  // Set while ?t= waits for a recording after it: the window is read more often.
  const waiting = useRef(false);

  // Another channel or window: nothing picked there yet.
  useEffect(() => {
    setData(null);
    setSel(null);
    setCursor(null);
    setNote('');
    setMarks([]);
    waiting.current = false;
  }, [props.device, props.channel, day]);

  useEffect(() => {
    let live = true;
    const load = () => {
      const t = Date.now();
      const w = windowOf(day, t);
      setNow(t);
      deviceApi
        .recordings(props.device, props.channel, new Date(w.from), new Date(w.to))
        .then((r) => {
          if (!live) return;
          const segments = r.items
            .map((x) => ({ start: x.start, end: x.end, s: Date.parse(x.start), e: Date.parse(x.end), durationMS: x.duration_ms, alarms: x.alarms }))
            .sort((a, b) => a.s - b.s);
          setData({ ...w, segments });
          setErr(null);
        })
        .catch((e) => live && setErr(e));
      // The alarms are drawn when they can be read; the recordings do not wait for them.
      alarmsIn(props.device, new Date(w.from), new Date(w.to))
        .then((xs) => {
          if (!live) return;
          const ch = props.channel;
          setMarks(
            xs
              .filter((a) => a.channel === ch || a.channel === 0)
              .map((a) => ({ id: a.id, t: Date.parse(a.raised_at), type: a.type, message: a.message, severity: a.severity, state: a.state })),
          );
        })
        .catch(() => {});
    };
    load();
    // The last 24 h always end now; a day only while it is today.
    const w = windowOf(day, Date.now());
    const includesNow = day === null || (w.from <= Date.now() && Date.now() < w.to);
    let last = Date.now();
    const timer = includesNow
      ? window.setInterval(() => {
          if (!waiting.current && Date.now() - last < REFRESH_MS - WAITING_MS / 2) return;
          last = Date.now();
          load();
        }, WAITING_MS)
      : undefined;
    return () => {
      live = false;
      if (timer !== undefined) clearInterval(timer);
    };
  }, [props.device, props.channel, day]);

  const w = data ?? { ...windowOf(day, now), segments: [] as Segment[] };

  /** pick plays from t, or from the next segment's start when t falls in a gap. */
  const pick = (t: number) => {
    const g = w.segments.find((x) => x.e > t);
    if (!g) {
      setNote(`nothing recorded after ${stamp(t)} in this window`);
      return;
    }
    const at = Math.max(t, g.s);
    const end = Math.min(at + HOUR, w.to);
    setNote(at > t ? `nothing recorded at ${stamp(t)}: playing from the next recording` : '');
    setSel((s) => ({ at, end: end > at ? end : at + HOUR, n: (s?.n ?? 0) + 1 }));
    setCursor(at);
    setPrefill((p) => ({ from: at, to: at + MINUTE, n: (p?.n ?? 0) + 1 }));
  };

  // ?t=: play from there once, when the window holds it and has a recording
  // after it (a moment ago's may still be being written: the next read).
  const atKey = `${props.device}/${props.channel}/${day}/${props.at}`;
  useEffect(() => {
    const at = props.at;
    if (!data || at === null || at === undefined || at < data.from || at >= data.to) return;
    if (started.current === atKey) return;
    // The window still grows (the last 24 h end at each read, or today): wait for the next read.
    if (!data.segments.some((g) => g.e > at) && (day === null || data.to > Date.now())) {
      waiting.current = true;
      setNote(`waiting for the recording at ${stamp(at)}…`);
      return;
    }
    waiting.current = false;
    started.current = atKey;
    pick(at);
  }, [data, props.at]);

  const total = w.segments.reduce((n, g) => n + g.durationMS, 0);
  const today = dayString(now);

  return (
    <section class="recordings">
      <div class="players">
        {props.live}
        {sel ? (
          <Playback device={props.device} channel={props.channel} sel={sel} onTime={setCursor} />
        ) : (
          <figure class="live playback">
            <div class="playback-empty">click the timeline to play a recording</div>
            <figcaption>recording</figcaption>
          </figure>
        )}
      </div>
      <div class="timeline-bar">
        <h2>Recordings</h2>
        <button type="button" data-testid="timeline-last24" class={day ? '' : 'active'} onClick={() => props.onDay(null)}>
          last 24 h
        </button>
        <label for="timeline-day">day</label>
        <input
          id="timeline-day"
          type="date"
          data-testid="timeline-day"
          max={today}
          value={day ?? ''}
          onChange={(e) => {
            const v = (e.target as HTMLInputElement).value;
            props.onDay(parseDay(v) ? v : null);
          }}
        />
        <span class="timeline-summary" data-testid="timeline-summary">
          {data ? (
            <>
              <span data-testid="timeline-count">{w.segments.length}</span> segment{w.segments.length === 1 ? '' : 's'},{' '}
              <span data-testid="timeline-duration">{duration(total)}</span> recorded
              {w.segments.length >= RECORDINGS_CAP && ` (the first ${RECORDINGS_CAP} only)`}
            </>
          ) : (
            'loading…'
          )}
        </span>
      </div>
      <ErrorBox error={err} />
      <Timeline
        from={w.from}
        to={w.to}
        segments={w.segments}
        alarms={marks}
        cursor={cursor}
        now={now}
        onPick={(t) => {
          // A pick of one's own: ?t= no longer waits to be played.
          started.current = atKey;
          waiting.current = false;
          pick(t);
        }}
      />
      <p class="timeline-range hint">
        {stamp(w.from)} – {stamp(w.to)}
        {note && <span class="note"> · {note}</span>}
      </p>
      <Download device={props.device} channel={props.channel} prefill={prefill} />
    </section>
  );
}

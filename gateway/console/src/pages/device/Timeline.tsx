import { Component } from 'preact';
import { HOUR, clock, dayString, stamp } from './time';
import './device.css';

/** Segment is one recorded segment: the API's strings and their instants (ms). */
export interface Segment {
  start: string;
  end: string;
  s: number;
  e: number;
  durationMS: number;
  /** the alarms an event plan recorded it for (absent: not recorded for an alarm) */
  alarms?: string[];
}

/** AlarmMark is an alarm drawn on the timeline at its raise. */
export interface AlarmMark {
  id: string;
  t: number;
  type: string;
  message: string;
  severity: string;
  state: string;
}

const pct = (x: number) => `${(x * 100).toFixed(4)}%`;

interface SegmentsProps {
  segments: Segment[];
  from: number;
  to: number;
}

/**
 * Segments draws one element per segment (up to 8 640 a day with 10 s
 * segments); those an event plan recorded for alarms are styled apart and
 * carry data-alarms (their ids, comma-separated). It only re-renders when
 * the list or the window changes, not when the cursor moves while a
 * recording plays.
 */
class Segments extends Component<SegmentsProps> {
  shouldComponentUpdate(next: SegmentsProps) {
    return next.segments !== this.props.segments || next.from !== this.props.from || next.to !== this.props.to;
  }
  render() {
    const { segments, from, to } = this.props;
    const span = to - from;
    return (
      <>
        {segments.map((g) => {
          const a = Math.max(g.s, from);
          const b = Math.min(g.e, to);
          const n = g.alarms?.length ?? 0;
          return (
            <div
              key={g.start + g.end}
              class={n > 0 ? 'timeline-segment timeline-segment-alarm' : 'timeline-segment'}
              data-testid="timeline-segment"
              data-start={g.start}
              data-end={g.end}
              data-alarms={n > 0 ? g.alarms!.join(',') : undefined}
              title={`${clock(g.s)}–${clock(g.e)}${n > 0 ? ` (recorded for ${n === 1 ? 'an alarm' : `${n} alarms`})` : ''}`}
              style={{ left: pct((a - from) / span), width: pct(Math.max(0, b - a) / span) }}
            />
          );
        })}
      </>
    );
  }
}

/** ticks are the local hour boundaries in [from, to); every third is labelled. */
function ticks(from: number, to: number): { t: number; label: string }[] {
  const d = new Date(from);
  d.setMinutes(0, 0, 0);
  let t = d.getTime();
  if (t < from) t += HOUR;
  const out: { t: number; label: string }[] = [];
  // Absolute hour steps stay on local hour boundaries across a DST change.
  for (; t < to; t += HOUR) {
    const h = new Date(t).getHours();
    out.push({ t, label: h === 0 ? dayString(t).slice(5) : h % 3 === 0 ? `${String(h).padStart(2, '0')}:00` : '' });
  }
  return out;
}

/**
 * Timeline is a bar over [from, to): recorded segments, alarm marks, hour
 * ticks, "now" and the cursor (what plays). A click anywhere on it picks
 * that instant; a click on an alarm's mark picks its raise.
 */
export function Timeline(props: {
  from: number;
  to: number;
  segments: Segment[];
  alarms?: AlarmMark[];
  cursor: number | null;
  now: number;
  onPick: (t: number) => void;
}) {
  const { from, to } = props;
  const span = to - from;
  const at = (t: number) => pct((t - from) / span);
  const pick = (e: MouseEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    if (r.width <= 0) return;
    const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    props.onPick(Math.round(from + x * span));
  };
  const cursor = props.cursor !== null && props.cursor >= from && props.cursor <= to ? props.cursor : null;
  return (
    <div
      class="timeline"
      data-testid="timeline"
      data-from={new Date(from).toISOString()}
      data-to={new Date(to).toISOString()}
      title="click to play from there"
      onClick={pick}
    >
      <Segments segments={props.segments} from={from} to={to} />
      {ticks(from, to).map((k) => (
        <div key={k.t} class={k.label ? 'timeline-tick major' : 'timeline-tick'} style={{ left: at(k.t) }} aria-hidden="true">
          {k.label && <span>{k.label}</span>}
        </div>
      ))}
      {(props.alarms ?? [])
        .filter((m) => m.t >= from && m.t < to)
        .map((m) => (
          <button
            type="button"
            key={m.id}
            class={`timeline-alarm sev-${m.severity} alarm-${m.state}`}
            data-testid="timeline-alarm"
            data-id={m.id}
            data-time={new Date(m.t).toISOString()}
            title={`${m.type}${m.message ? ': ' + m.message : ''} (${stamp(m.t)}, ${m.severity}, ${m.state})`}
            aria-label={`alarm ${m.type} at ${stamp(m.t)}: play from there`}
            style={{ left: at(m.t) }}
            onClick={(e) => {
              e.stopPropagation();
              props.onPick(m.t);
            }}
          />
        ))}
      {props.now > from && props.now < to && <div class="timeline-now" style={{ left: at(props.now) }} title={'now ' + stamp(props.now)} />}
      {cursor !== null && (
        <div class="timeline-cursor" data-testid="timeline-cursor" data-time={new Date(cursor).toISOString()} style={{ left: at(cursor) }} title={stamp(cursor)} />
      )}
    </div>
  );
}

// Time helpers of the device page. The API speaks RFC 3339 (UTC); the page
// shows and takes the browser's local time.

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** parseDay reads YYYY-MM-DD as a local calendar day, or null. */
export function parseDay(s: string | null): { y: number; m: number; d: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s ?? '');
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = new Date(y, mo - 1, d);
  // Reject 2026-02-31 and the like (Date rolls them over).
  if (t.getFullYear() !== y || t.getMonth() !== mo - 1 || t.getDate() !== d) return null;
  return { y, m: mo, d };
}

/** dayString is the local calendar day of t as YYYY-MM-DD. */
export function dayString(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * dayWindow is [local midnight, next local midnight) of a day: 23 or 25 h
 * long on daylight-saving days.
 */
export function dayWindow(day: { y: number; m: number; d: number }): { from: number; to: number } {
  return { from: new Date(day.y, day.m - 1, day.d).getTime(), to: new Date(day.y, day.m - 1, day.d + 1).getTime() };
}

/** localInput is t as the value of an <input type="datetime-local" step="1">. */
export function localInput(t: number): string {
  const d = new Date(t);
  return `${dayString(t)}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** parseLocalInput reads a datetime-local value (seconds optional) as local time, or null. */
export function parseLocalInput(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(s);
  if (!m) return null;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), Number((m[7] ?? '0').padEnd(3, '0')));
  return Number.isNaN(t.getTime()) ? null : t.getTime();
}

/** clock is t's local time of day, HH:MM:SS. */
export function clock(t: number): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** stamp is t as local date and time, for people. */
export function stamp(t: number): string {
  return `${dayString(t)} ${clock(t)}`;
}

/** fileStamp is t for a file name: YYYYMMDD-HHMMSS, local. */
export function fileStamp(t: number): string {
  return stamp(t).replace(/[-:]/g, '').replace(' ', '-');
}

/** duration is ms as "2 h 5 min 10 s" (whole seconds). */
export function duration(ms: number): string {
  let s = Math.round(ms / SECOND);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (s || parts.length === 0) parts.push(`${s} s`);
  return parts.join(' ');
}

/** browserTimezone is the browser's IANA zone ("UTC" when it does not say). */
export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

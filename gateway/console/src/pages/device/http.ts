// The device page's own API calls and types (src/api.ts is shared; these are
// used here only).
import { api, ApiError, request, type Alarm, type Device } from '../../api';

const enc = encodeURIComponent;

/** ifMatch is the strong entity tag of a version, as the gateway's etag() writes it. */
const ifMatch = (version: number) => ({ 'If-Match': `"${version}"` });

/** DevicePatch is a JSON merge patch: absent = unchanged, null = cleared/removed. */
export interface DevicePatch {
  name?: string;
  url?: string;
  username?: string | null;
  password?: string;
  channels?: number;
  labels?: Record<string, string | null>;
}

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface PlanWindow {
  days: string[];
  start: string; // HH:MM
  end: string; // HH:MM or 24:00
}

export type PlanMode = 'continuous' | 'schedule' | 'event' | 'off';
export const PLAN_MODES: PlanMode[] = ['continuous', 'schedule', 'event', 'off'];

/** PlanEvent is how an event plan records: around alarms whose type is a trigger (none: any alarm). */
export interface PlanEvent {
  pre_roll_seconds: number;
  post_roll_seconds: number;
  triggers: string[];
}

export interface Plan {
  device: string;
  channel: number;
  mode: string;
  schedule: PlanWindow[];
  timezone: string;
  segment_seconds: number;
  retention_days: number;
  recording: boolean;
  next_change: string | null;
  version: number;
  /** mode event only */
  event?: PlanEvent;
  /** the camera's audio is recorded with the video */
  audio: boolean;
}

export interface PlanRequest {
  mode: string;
  schedule?: PlanWindow[];
  timezone?: string;
  segment_seconds?: number;
  retention_days?: number;
  /** mode event: absent members are the defaults (pre-roll 5 s, post-roll 10 s, any alarm) */
  event?: Partial<PlanEvent>;
  /** absent: true */
  audio?: boolean;
}

export interface Recording {
  start: string;
  end: string;
  duration_ms: number;
  bytes: number;
  url: string;
  /** the alarms an event plan recorded this segment for */
  alarms?: string[];
}

/** MotionZone: x, y, w, h in 0..1 of the picture. */
export type MotionZone = [number, number, number, number];

/** Motion is a channel's motion detection (GET/PUT …/motion); it raises alarm_type alarms. */
export interface Motion {
  enabled: boolean;
  sensitivity: number;
  zones: MotionZone[];
  min_duration_ms: number;
  cooldown_ms: number;
  alarm_type: string;
}

export interface MotionRequest {
  enabled: boolean;
  sensitivity?: number;
  zones?: MotionZone[];
  min_duration_ms?: number;
  cooldown_ms?: number;
}

export interface PlaybackURLs {
  mp4_url: string;
  hls_url: string;
  token: string;
  expires_at: string;
}

/** PTZVector: ONVIF generic spaces (pan, tilt -1..1; zoom 0..1 absolute, -1..1 as a velocity). */
export interface PTZVector {
  pan?: number;
  tilt?: number;
  zoom?: number;
}

/** PTZRequest is exactly one command. */
export type PTZRequest =
  | { continuous: PTZVector & { timeout_ms?: number } }
  | { absolute: PTZVector }
  | { relative: PTZVector }
  | { stop: true }
  | { home: true }
  | { preset: string };

export interface PTZPosition {
  pan: number;
  tilt: number;
  zoom: number;
}

export interface PTZStatus {
  position: PTZPosition;
  moving: boolean;
  time?: string;
}

export interface PTZPreset {
  name: string;
  token: string;
  position?: PTZPosition;
}

/** RECORDINGS_CAP is how many rows GET /v1/recordings answers at most (gateway/on_recordings.go). */
export const RECORDINGS_CAP = 10000;

const chanPath = (id: string, ch: number) => `/v1/devices/${enc(id)}/channels/${ch}`;

export const deviceApi = {
  patchDevice(id: string, version: number, patch: DevicePatch) {
    return request<Device>('PATCH', `/v1/devices/${enc(id)}`, patch, { headers: ifMatch(version), contentType: 'application/merge-patch+json' });
  },
  /** getPlan answers null for a channel without a plan (a 404 "no recording plan"). */
  async getPlan(id: string, ch: number): Promise<Plan | null> {
    try {
      return await request<Plan>('GET', `${chanPath(id, ch)}/plan`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && /no recording plan/i.test(e.detail)) return null;
      throw e;
    }
  },
  /** putPlan replaces the plan; version guards it when the plan exists (null: none yet). */
  putPlan(id: string, ch: number, body: PlanRequest, version: number | null) {
    return request<Plan>('PUT', `${chanPath(id, ch)}/plan`, body, { headers: version === null ? {} : ifMatch(version) });
  },
  getMotion(id: string, ch: number) {
    return request<Motion>('GET', `${chanPath(id, ch)}/motion`);
  },
  putMotion(id: string, ch: number, body: MotionRequest) {
    return request<Motion>('PUT', `${chanPath(id, ch)}/motion`, body);
  },
  recordings(id: string, ch: number, from: Date, to: Date) {
    const q = new URLSearchParams({ device: id, channel: String(ch), from: from.toISOString(), to: to.toISOString() });
    return request<{ items: Recording[] }>('GET', `/v1/recordings?${q}`);
  },
  /** refreshOnvif reads the camera again (the device as it now is). */
  refreshOnvif(id: string) {
    return request<Device>('POST', `/v1/devices/${enc(id)}/onvif/refresh`);
  },
  ptz(id: string, ch: number, cmd: PTZRequest) {
    return request<void>('POST', `${chanPath(id, ch)}/ptz`, cmd);
  },
  ptzStatus(id: string, ch: number) {
    return request<PTZStatus>('GET', `${chanPath(id, ch)}/ptz`);
  },
  ptzPresets(id: string, ch: number) {
    return request<{ items: PTZPreset[] }>('GET', `${chanPath(id, ch)}/ptz/presets`);
  },
  /** setPreset (re)sets the named preset at the camera's current position. */
  setPreset(id: string, ch: number, name: string) {
    return request<PTZPreset>('PUT', `${chanPath(id, ch)}/ptz/presets/${enc(name)}`);
  },
  removePreset(id: string, ch: number, name: string) {
    return request<void>('DELETE', `${chanPath(id, ch)}/ptz/presets/${enc(name)}`);
  },
  /**
   * snapshotURL is the channel's snapshot.jpg with its live token: an <img>
   * cannot send the Bearer key (and the key never goes into a URL), and the
   * CSP's img-src has no blob: for a fetched copy. n defeats caching.
   */
  snapshotURL(id: string, ch: number, token: string, n: number) {
    const q = new URLSearchParams({ token, n: String(n) });
    return `${chanPath(id, ch)}/snapshot.jpg?${q}`;
  },
  /**
   * playback mints a playback token for [start, end) (at most 24 h) and the
   * URLs carrying it; the server makes it last as long as the range plays.
   */
  playback(id: string, ch: number, start: Date, end: Date) {
    const q = new URLSearchParams({ start: start.toISOString(), end: end.toISOString() });
    return request<PlaybackURLs>('GET', `${chanPath(id, ch)}/playback?${q}`);
  },
};

/**
 * probe asks for the first byte of a token URL (no key: the token is the
 * credential) and turns a problem+json answer into an ApiError, so that a
 * download that would fail ("nothing recorded in that range") is reported
 * on the page instead of by the browser's download manager.
 */
export async function probe(url: string): Promise<void> {
  const resp = await fetch(url, { headers: { Range: 'bytes=0-0' }, credentials: 'omit', cache: 'no-store' });
  if (resp.ok) {
    resp.body?.cancel().catch(() => {});
    return;
  }
  let p: { title?: string; detail?: string; field?: string } = {};
  try {
    p = await resp.json();
  } catch {
    p = {};
  }
  throw new ApiError(resp.status, p.title ?? resp.statusText, p.detail ?? '', p.field ?? '');
}

/** ALARMS_CAP: the most alarms of a window asked for (the list's largest page). */
const ALARMS_CAP = 1000;
/** While the history (ClickHouse) answered 503, it is not asked again for this long. */
const HISTORY_RETRY_MS = 60000;
let historyDownUntil = 0;

/**
 * alarmsIn is a device's alarms raised in [from, to): the history's
 * (GET /v1/alarms?device=&from=&to=, ClickHouse) with the open ones (from
 * the actors, always fresh) over them; without ClickHouse (503) only the
 * open ones. Newest first.
 */
export async function alarmsIn(device: string, from: Date, to: Date): Promise<Alarm[]> {
  const history =
    Date.now() < historyDownUntil
      ? Promise.resolve(null)
      : api.listAlarms({ device, from: from.toISOString(), to: to.toISOString(), limit: ALARMS_CAP }).then(
          (p) => p.items,
          (e) => {
            if (!(e instanceof ApiError && e.status === 503)) throw e;
            historyDownUntil = Date.now() + HISTORY_RETRY_MS;
            return null;
          },
        );
  const [past, open] = await Promise.all([history, api.listAlarms({ device, state: 'open', limit: ALARMS_CAP })]);
  const byId = new Map<string, Alarm>();
  for (const a of [...(past ?? []), ...open.items]) {
    const t = Date.parse(a.raised_at);
    if (t >= from.getTime() && t < to.getTime()) byId.set(a.id, a);
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
}

// The device page's own API calls and types (src/api.ts is shared; these are
// used here only).
import { ApiError, request, type Device } from '../../api';

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

export type PlanMode = 'continuous' | 'schedule' | 'off';
export const PLAN_MODES: PlanMode[] = ['continuous', 'schedule', 'off'];

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
}

export interface PlanRequest {
  mode: string;
  schedule?: PlanWindow[];
  timezone?: string;
  segment_seconds?: number;
  retention_days?: number;
}

export interface Recording {
  start: string;
  end: string;
  duration_ms: number;
  bytes: number;
  url: string;
}

export interface PlaybackURLs {
  mp4_url: string;
  hls_url: string;
  token: string;
  expires_at: string;
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
  recordings(id: string, ch: number, from: Date, to: Date) {
    const q = new URLSearchParams({ device: id, channel: String(ch), from: from.toISOString(), to: to.toISOString() });
    return request<{ items: Recording[] }>('GET', `/v1/recordings?${q}`);
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

// The console's only way to the server: the public /v1 API with the key from
// sessionStorage as a Bearer token (never in a URL).

export type Role = 'viewer' | 'operator' | 'admin';

const KEY = 'argus.key';
const ROLE = 'argus.role';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  role(): Role | null {
    const r = sessionStorage.getItem(ROLE);
    return r === 'viewer' || r === 'operator' || r === 'admin' ? r : null;
  },
  set(key: string, role: Role) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
  },
};

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** may says whether the signed-in role is at least need. */
export function may(need: Role): boolean {
  const r = session.role();
  return r !== null && rank[r] >= rank[need];
}

/** ApiError is a non-2xx answer, with its problem+json members when given. */
export class ApiError extends Error {
  status: number;
  title: string;
  detail: string;
  field: string;
  constructor(status: number, title: string, detail: string, field: string) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.field = field;
  }
}

let onUnauthorized: () => void = () => {};

/** setUnauthorizedHandler is called when the API answers 401 (key gone). */
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

export async function request<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const k = key ?? session.key();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (k) headers.Authorization = `Bearer ${k}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!resp.ok) {
    const p = (data ?? {}) as { title?: string; detail?: string; field?: string };
    if (resp.status === 401 && key === undefined) onUnauthorized();
    throw new ApiError(resp.status, p.title ?? resp.statusText, p.detail ?? text, p.field ?? '');
  }
  return data as T;
}

export interface Device {
  id: string;
  name: string;
  url: string;
  username?: string;
  channels: number;
  labels: Record<string, string>;
  status: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface EventItem {
  seq: number;
  time: string;
  type: string;
  kind: string;
  aggregate: string;
  version: number;
  node: string;
  data: unknown;
}

export interface EventPage {
  items: EventItem[];
  next_after_seq: number;
}

export interface LiveURLs {
  rtsp_url: string;
  hls_url: string;
  expires_at: string;
  node: string;
}

export interface NewDevice {
  id?: string;
  name: string;
  url: string;
  username?: string;
  password?: string;
  channels?: number;
  labels?: Record<string, string>;
}

const enc = encodeURIComponent;

export const api = {
  listDevices(o: { limit?: number; cursor?: string; label?: string }) {
    const q = new URLSearchParams();
    if (o.limit) q.set('limit', String(o.limit));
    if (o.cursor) q.set('cursor', o.cursor);
    if (o.label) q.set('label', o.label);
    const s = q.toString();
    return request<Page<Device>>('GET', '/v1/devices' + (s ? '?' + s : ''));
  },
  getDevice(id: string) {
    return request<Device>('GET', `/v1/devices/${enc(id)}`);
  },
  createDevice(d: NewDevice) {
    return request<Device>('POST', '/v1/devices', d);
  },
  deleteDevice(id: string) {
    return request<void>('DELETE', `/v1/devices/${enc(id)}`);
  },
  deviceEvents(id: string, afterSeq: number, limit: number) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (afterSeq > 0) q.set('after_seq', String(afterSeq));
    return request<EventPage>('GET', `/v1/devices/${enc(id)}/events?${q}`);
  },
  live(id: string, ch: number) {
    return request<LiveURLs>('GET', `/v1/devices/${enc(id)}/channels/${ch}/live`);
  },
};

/**
 * login checks the key and finds its role with reads and one refused command,
 * adding nothing to the API: GET /v1/devices?limit=1 (401: bad key), then
 * GET /v1/keys (200 only for admin), then POST /v1/devices with an empty body:
 * 403 for a viewer, a validation 400 for an operator (nothing is created).
 */
export async function login(key: string): Promise<Role> {
  await request('GET', '/v1/devices?limit=1', undefined, key);
  try {
    await request('GET', '/v1/keys', undefined, key);
    return 'admin';
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
  }
  try {
    await request('POST', '/v1/devices', {}, key);
    return 'operator'; // not expected: an empty body is always refused
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return 'viewer';
    if (e instanceof ApiError && e.status === 400) return 'operator';
    throw e;
  }
}

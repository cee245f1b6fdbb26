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

/** RequestOptions: another key than the session's (login), extra headers (If-Match), the body's type. */
export interface RequestOptions {
  key?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

export async function request<T>(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
  const key = o.key;
  const k = key ?? session.key();
  const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
  if (k) headers.Authorization = `Bearer ${k}`;
  if (body !== undefined) headers['Content-Type'] = o.contentType ?? 'application/json';
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

/** Camera is what an ONVIF camera said it is (GetDeviceInformation). */
export interface Camera {
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  hardware: string;
}

/** Source is one channel's video source as read over ONVIF. */
export interface Source {
  channel: number;
  video_source: string;
  profile: string;
  stream_url: string;
  sub_profile?: string;
  sub_stream_url?: string;
  snapshot_url?: string;
  ptz: boolean;
  width: number;
  height: number;
}

export interface Device {
  id: string;
  name: string;
  url: string;
  /** the ONVIF device service URL, for a device added by ONVIF */
  onvif?: string;
  username?: string;
  channels: number;
  labels: Record<string, string>;
  camera?: Camera;
  sources?: Source[];
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
  /** The same stream as LL-HLS (parts of 200 ms): about a second behind live. */
  ll_hls_url?: string;
  /** A WHEP endpoint (RFC 9725), when the node serves WebRTC. */
  webrtc_url?: string;
  expires_at: string;
  node: string;
}

/** NewDevice is a POST /v1/devices body: url (RTSP) or onvif (the camera is read first). */
export interface NewDevice {
  id?: string;
  name: string;
  url?: string;
  onvif?: string;
  username?: string;
  password?: string;
  channels?: number;
  labels?: Record<string, string>;
}

/** Candidate is a camera that answered a WS-Discovery probe. */
export interface Candidate {
  address: string;
  manufacturer: string;
  model: string;
  name: string;
  hardware: string;
  serial: string;
  scopes: string[];
  already_added: boolean;
}

/** Alarm is one alarm (openapi.json: Alarm); times are RFC 3339. */
export interface Alarm {
  id: string;
  device: string;
  /** 0: the device as a whole */
  channel: number;
  type: string;
  source: string;
  severity: string;
  message: string;
  state: 'raised' | 'acknowledged' | 'cleared';
  active: boolean;
  count: number;
  raised_at: string;
  last_at: string;
  ended_at: string | null;
  raised_by?: string;
  acked_by?: string;
  acked_at: string | null;
  note?: string;
  cleared_by?: string;
  cleared_at: string | null;
  clear_reason?: string;
  /** the picture's path: GET with the (viewer) key */
  snapshot_url: string | null;
  trigger?: string;
}

/** AlarmQuery filters GET /v1/alarms; state open (without from/to) needs no ClickHouse, the rest is the history. */
export interface AlarmQuery {
  device?: string;
  state?: string;
  type?: string;
  severity?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export const SEVERITIES = ['info', 'minor', 'major', 'critical'];

/** TaskType: what a media task makes (openapi.json: Task). */
export type TaskType = 'snapshot' | 'clip' | 'transcode' | 'timelapse';
export const TASK_TYPES: TaskType[] = ['snapshot', 'clip', 'timelapse', 'transcode'];
export type TaskState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const FINISHED_STATES: TaskState[] = ['succeeded', 'failed', 'canceled'];
/** taskOver: the task will not change any more. */
export const taskOver = (s: string) => s === 'succeeded' || s === 'failed' || s === 'canceled';

export interface TaskParams {
  timestamp?: boolean;
  speed?: number;
  renditions?: string[];
  width?: number;
}

export interface TaskResult {
  key: string;
  /** GET it with the (viewer) key */
  url: string;
  bytes: number;
  duration_ms: number;
  content_type: string;
  /** a multi-file result's files (HLS), under /v1/tasks/{id}/files/ */
  files?: string[];
}

/** Task is one media task; times are RFC 3339. */
export interface Task {
  id: string;
  type: TaskType;
  state: TaskState;
  /** 0..1 */
  progress: number;
  worker?: string;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: TaskResult | null;
  error?: string;
  /** failed because its attempts ran out */
  dead_letter?: boolean;
  device?: string;
  channel?: number;
  from?: string;
  to?: string;
  source?: string;
  params: TaskParams;
  group: string;
  priority: number;
  queue: 'online' | 'offline';
  max_attempts: number;
  created_by?: string;
  version: number;
}

/** NewTask is a POST /v1/tasks body. */
export interface NewTask {
  type: TaskType;
  device: string;
  channel?: number;
  from?: string;
  to?: string;
  params?: TaskParams;
  group?: string;
  priority?: number;
}

export interface Worker {
  id: string;
  group: string;
  slots: number;
  /** slots kept for online tasks */
  online_slots: number;
  running: number;
  running_offline: number;
  tasks: string[];
  host: string;
  started_at: string;
  updated_at: string;
  /** attempts finished since it started */
  done: number;
}

/** GroupDepth is what waits in one worker group. */
export interface GroupDepth {
  group: string;
  online_waiting: number;
  /** on the offline queue, no slot yet */
  offline_waiting: number;
  /** offline tasks the scheduler holds back (fair share) */
  backlog: number;
}

export interface WorkerList {
  items: Worker[];
  groups: GroupDepth[];
}

/** TaskQuery: state queued|running (live, no ClickHouse), anything else the history. */
export interface TaskQuery {
  state?: string;
  type?: string;
  device?: string;
  limit?: number;
  cursor?: string;
}

const enc = encodeURIComponent;

export const api = {
  listDevices(o: { limit?: number; cursor?: string; label?: string; status?: string }) {
    const q = new URLSearchParams();
    if (o.limit) q.set('limit', String(o.limit));
    if (o.cursor) q.set('cursor', o.cursor);
    if (o.label) q.set('label', o.label);
    if (o.status) q.set('status', o.status);
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
  /** live gives the channel's live URLs; codec 'h264' those of its H.264 rendition (an H.265 camera transcoded). */
  live(id: string, ch: number, codec: '' | 'h264' = '') {
    return request<LiveURLs>('GET', `/v1/devices/${enc(id)}/channels/${ch}/live` + (codec ? `?codec=${codec}` : ''));
  },
  listAlarms(o: AlarmQuery) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
    const s = q.toString();
    return request<Page<Alarm>>('GET', '/v1/alarms' + (s ? '?' + s : ''));
  },
  ackAlarm(id: string, note: string) {
    return request<Alarm>('POST', `/v1/alarms/${enc(id)}/ack`, note ? { note } : {});
  },
  clearAlarm(id: string, reason: string) {
    return request<Alarm>('POST', `/v1/alarms/${enc(id)}/clear`, reason ? { reason } : {});
  },
  /** discover probes for ONVIF cameras: unicast to targets (host:port), else multicast. */
  discover(targets: string[]) {
    return request<{ items: Candidate[] }>('POST', '/v1/discovery', targets.length ? { targets } : {});
  },
  submitTask(t: NewTask) {
    return request<Task>('POST', '/v1/tasks', t);
  },
  getTask(id: string) {
    return request<Task>('GET', `/v1/tasks/${enc(id)}`);
  },
  cancelTask(id: string) {
    return request<Task>('POST', `/v1/tasks/${enc(id)}/cancel`);
  },
  listTasks(o: TaskQuery) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
    const s = q.toString();
    return request<Page<Task>>('GET', '/v1/tasks' + (s ? '?' + s : ''));
  },
  workers() {
    return request<WorkerList>('GET', '/v1/workers');
  },
};

export interface Whoami {
  key_id: string;
  name: string;
  role: Role;
}

/** login checks the key and finds its role (GET /v1/whoami; 401: not a key). */
export async function login(key: string): Promise<Role> {
  const w = await request<Whoami>('GET', '/v1/whoami', undefined, { key });
  if (w.role !== 'viewer' && w.role !== 'operator' && w.role !== 'admin') throw new Error(`unknown role ${w.role}`);
  return w.role;
}

/**
 * dataURL fetches a picture the API serves to the key (an alarm's
 * snapshot_url) as a data: URL: an <img> cannot send the Bearer header, the
 * key never goes into a URL, and the CSP's img-src has data: but no blob:.
 */
export async function dataURL(path: string): Promise<string> {
  const blob = await fetchBlob(path);
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('cannot read the picture'));
    r.readAsDataURL(blob);
  });
}

/** fetchBlob GETs a file the API serves to the key (Bearer header), a problem+json answer as an ApiError. */
async function fetchBlob(path: string): Promise<Blob> {
  const k = session.key();
  const resp = await fetch(path, { headers: k ? { Authorization: `Bearer ${k}` } : {}, credentials: 'omit', cache: 'no-store' });
  if (!resp.ok) {
    let p: { title?: string; detail?: string; field?: string } = {};
    try {
      p = await resp.json();
    } catch {
      p = {};
    }
    if (resp.status === 401) onUnauthorized();
    throw new ApiError(resp.status, p.title ?? resp.statusText, p.detail ?? '', p.field ?? '');
  }
  return resp.blob();
}

/**
 * saveFile downloads a file the API serves to the key (a task's result) and
 * hands it to the browser as a download named name: fetched with the
 * Bearer header into a Blob (the key never goes into a URL), saved through
 * an object URL followed by an <a download>. A download is a navigation,
 * not a fetch or an image, so the CSP's connect-src and img-src do not
 * apply to the blob: URL.
 */
export async function saveFile(path: string, name: string): Promise<void> {
  const blob = await fetchBlob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has its own copy once it started.
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

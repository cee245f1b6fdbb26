// The tasks scenario in a real browser (Debian's chromium, headless), run by
// tasks_test.go with BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID (a camera
// recording continuously), NODE_ID (the node, its own worker), REC_FROM and
// REC_TO (RFC 3339: a recorded range), HISTORY (1: the node has ClickHouse)
// and SHOTS (a directory for screenshots) in the environment. Prints one
// line per step and exits non-zero on the first failure.
import { statSync } from 'node:fs';
import { launch, scenario, shooter, timedLog } from './harness.mjs';

const { BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID, NODE_ID, REC_FROM, REC_TO, SHOTS } = process.env;
if (!BASE_URL || !ADMIN_KEY || !VIEWER_KEY || !DEVICE_ID || !NODE_ID || !REC_FROM || !REC_TO || !SHOTS) {
  console.error('BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID, NODE_ID, REC_FROM, REC_TO and SHOTS are required');
  process.exit(2);
}
const HISTORY = process.env.HISTORY === '1';

const browser = await launch();

const problems = []; // CSP violations, page errors, keys in URLs
let step = 'start';
const log = timedLog();
const shot = shooter(SHOTS);
/** local is d as a datetime-local value (browser time, seconds). */
const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
/** api calls the API from node with a key (the admin's by default). */
const api = async (method, path, body, key = ADMIN_KEY) => {
  const r = await fetch(BASE_URL + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};
/** saved waits for the download a click starts and answers its file's size and name. */
const saved = async (page, selector) => {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.click(selector)]);
  const failure = await d.failure();
  if (failure) throw new Error(`download of ${selector} failed: ${failure}`);
  return { size: statSync(await d.path()).size, name: d.suggestedFilename() };
};

async function newPage(key) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (r.url().includes(ADMIN_KEY) || r.url().includes(VIEWER_KEY)) problems.push('an API key is in a URL: ' + r.url());
  });
  await page.goto(`${BASE_URL}/console/login?next=${encodeURIComponent('/devices/' + DEVICE_ID)}`);
  await page.fill('[data-testid=login-key]', key);
  await page.click('[data-testid=login-submit]');
  await page.waitForURL(new RegExp(`/console/devices/${DEVICE_ID}`));
  return page;
}

await scenario(browser, shot, problems, () => step, log, async () => {
  step = 'login';
  const page = await newPage(ADMIN_KEY);
  log('ok login');

  step = 'export a clip from the device page';
  const from = new Date(Date.parse(REC_FROM) + 2000);
  const to = new Date(from.getTime() + 6000);
  if (to.getTime() > Date.parse(REC_TO)) throw new Error(`the recording ${REC_FROM} – ${REC_TO} is too short`);
  await page.fill('[data-testid=download-from]', local(from));
  await page.fill('[data-testid=download-to]', local(to));
  await page.check('[data-testid=export-timestamp]');
  await page.click('[data-testid=export-clip]');
  const state = page.locator('[data-testid=export-state]');
  await state.waitFor();
  const clipID = await state.getAttribute('data-task-id');
  const seen = new Set();
  await page.waitForFunction(
    () => {
      const e = document.querySelector('[data-testid=export-state]');
      const s = e?.dataset.state;
      if (s === 'failed' || s === 'canceled') return s;
      return s === 'succeeded';
    },
    null,
    { timeout: 60000, polling: 100 },
  ).then(async (h) => {
    const v = await h.jsonValue();
    if (v !== true) throw new Error(`the clip ${clipID} is ${v}: ${await page.locator('[data-testid=export-error]').textContent().catch(() => '')}`);
  });
  seen.add((await state.textContent()).trim());
  await page.locator('[data-testid=export-download]').waitFor();
  const label = (await page.locator('[data-testid=export-download]').textContent()).trim();
  await shot(page, 't1-export');
  const clip = await saved(page, '[data-testid=export-download]');
  if (clip.size <= 10000) throw new Error(`the exported clip has ${clip.size} bytes`);
  if (!clip.name.endsWith('.mp4')) throw new Error(`the clip is saved as ${clip.name}`);
  log(`ok Export clip ${clipID} (timestamp) succeeded; "${label}" saved ${clip.name} (${clip.size} bytes)`);

  step = 'tasks page: workers and groups';
  await page.click('[data-testid=nav-tasks]');
  await page.waitForURL(/\/console\/tasks$/);
  await page.locator('[data-testid=tasks-page]').waitFor();
  const worker = page.locator(`[data-testid=worker-row][data-worker-id="${NODE_ID}"]`);
  await worker.waitFor();
  const slots = await worker.getAttribute('data-slots');
  if (slots !== '2') throw new Error(`worker ${NODE_ID} has ${slots} slots, want 2`);
  const slotsText = (await worker.locator('[data-testid=worker-slots]').textContent()).trim();
  if (!/\/ 2$/.test(slotsText)) throw new Error(`worker slots shown as "${slotsText}"`);
  await page.locator('[data-testid=group-row][data-group=default]').waitFor();
  log(`ok worker ${NODE_ID}: ${slotsText} slots; group default listed`);

  step = 'tasks page: history';
  await page.click('[data-testid=tasks-history-tab]');
  await page.waitForURL(/\/console\/tasks\?tab=history$/);
  if (HISTORY) {
    const row = page.locator(`[data-testid=task-row][data-task-id="${clipID}"]`);
    const deadline = Date.now() + 30000;
    for (;;) {
      await page.locator('[data-testid=tasks-history] tbody tr').first().waitFor();
      if ((await row.count()) > 0 && (await row.getAttribute('data-state')) === 'succeeded') break;
      if (Date.now() > deadline) throw new Error(`the clip ${clipID} is not in the history`);
      await page.waitForTimeout(1000);
      await page.click('[data-testid=tasks-refresh]');
    }
    await row.locator('[data-testid=task-download]').waitFor();
    const again = await saved(page, `[data-testid=task-row][data-task-id="${clipID}"] [data-testid=task-download]`);
    if (again.size !== clip.size) throw new Error(`the history's download has ${again.size} bytes, the export's ${clip.size}`);
    await shot(page, 't2-history');
    log(`ok History lists ${clipID} (succeeded) with its download (${again.size} bytes)`);
  } else {
    await page.locator('[data-testid=tasks-unavailable]').waitFor();
    log('ok History: no ClickHouse, the notice is shown');
  }

  step = 'new task: a field error, then a live snapshot';
  await page.click('[data-testid=tasks-live-tab]');
  await page.click('[data-testid=task-new]');
  await page.selectOption('[data-testid=task-new-type]', 'snapshot');
  if ((await page.locator('[data-testid=task-new-to]').count()) !== 0) throw new Error('a snapshot offers a "to"');
  await page.fill('#task-device', 'no-such-cam');
  await page.click('[data-testid=task-new-submit]');
  const devErr = page.locator('[data-testid=task-new-form] [data-testid=field-error][data-field=device]');
  await devErr.waitFor();
  const devMsg = (await devErr.textContent()).trim();
  await page.fill('#task-device', DEVICE_ID);
  await page.fill('#task-width', '320');
  await page.click('[data-testid=task-new-submit]');
  const done = page.locator('[data-testid=task-new-done]');
  await done.waitFor();
  const snapID = await done.getAttribute('data-task-id');
  if ((await devErr.count()) !== 0) throw new Error('the device error stayed after a good submit');
  const snapRow = page.locator(`[data-testid=task-row][data-task-id="${snapID}"]`);
  await page.waitForFunction(
    (id) => {
      const s = document.querySelector(`[data-testid=task-row][data-task-id="${id}"]`)?.dataset.state;
      return s === 'succeeded' || s === 'failed' || s === 'canceled' ? s : false;
    },
    snapID,
    { timeout: 30000, polling: 100 },
  ).then(async (h) => {
    const s = await h.jsonValue();
    if (s !== 'succeeded') throw new Error(`the snapshot ${snapID} is ${s}: ${await snapRow.locator('[data-testid=task-error]').textContent().catch(() => '')}`);
  });
  await snapRow.locator('[data-testid=task-picture-toggle]').click();
  const pic = await page.waitForFunction(
    () => {
      const i = document.querySelector('[data-testid=task-picture]');
      return i && i.complete && i.naturalWidth > 0 ? { w: i.naturalWidth, data: i.src.startsWith('data:image/jpeg;base64,') } : false;
    },
    null,
    { timeout: 10000 },
  );
  const pv = await pic.jsonValue();
  if (pv.w !== 320 || !pv.data) throw new Error(`the snapshot's picture: ${JSON.stringify(pv)}, want 320 px wide from a data: URL`);
  const jpg = await saved(page, `[data-testid=task-row][data-task-id="${snapID}"] [data-testid=task-download]`);
  if (jpg.size < 1000 || !jpg.name.endsWith('.jpg')) throw new Error(`the snapshot saved as ${jpg.name} (${jpg.size} bytes)`);
  await shot(page, 't3-snapshot');
  log(`ok New task: "no-such-cam" named at device (${devMsg}); live snapshot ${snapID} succeeded, its picture ${pv.w} px, ${jpg.name} (${jpg.size} bytes)`);

  step = 'cancel a queued task';
  const q = await api('POST', '/v1/tasks', { type: 'clip', device: DEVICE_ID, channel: 1, from: from.toISOString(), to: to.toISOString(), group: 'nobody' });
  if (q.status !== 202) throw new Error(`submit to group nobody: ${q.status} ${JSON.stringify(q.body)}`);
  const qrow = page.locator(`[data-testid=task-row][data-task-id="${q.body.id}"]`);
  await qrow.waitFor();
  if ((await qrow.getAttribute('data-state')) !== 'queued') throw new Error(`the task for group nobody is ${await qrow.getAttribute('data-state')}`);
  await qrow.locator('[data-testid=task-progress]').waitFor();
  await page.locator('[data-testid=group-row][data-group=nobody]').waitFor();
  await qrow.locator('[data-testid=task-cancel]').click();
  await page.locator(`[data-testid=task-row][data-task-id="${q.body.id}"][data-state=canceled]`).waitFor();
  const got = await api('GET', `/v1/tasks/${q.body.id}`);
  if (got.body?.state !== 'canceled') throw new Error(`the canceled task is ${got.body?.state}`);
  await shot(page, 't4-canceled');
  log(`ok ${q.body.id} queued for group nobody (its group listed), canceled from its row`);

  step = 'viewer';
  const vp = await newPage(VIEWER_KEY);
  await vp.locator('[data-testid=download-mp4]').waitFor();
  if ((await vp.locator('[data-testid=export-clip], [data-testid=export-timestamp]').count()) !== 0) throw new Error('a viewer sees Export clip');
  await vp.click('[data-testid=nav-tasks]');
  await vp.locator(`[data-testid=worker-row][data-worker-id="${NODE_ID}"]`).waitFor();
  await vp.click('[data-testid=tasks-history-tab]');
  await vp.locator('[data-testid=tasks-history] tbody tr').first().waitFor();
  if ((await vp.locator('[data-testid=task-new], [data-testid=task-cancel]').count()) !== 0) throw new Error('a viewer sees New task or Cancel');
  log('ok viewer: no Export clip, New task or Cancel');

});

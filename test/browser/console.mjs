// The console scenario in a real browser (Debian's chromium, headless), run
// by console_test.go with BASE_URL, ADMIN_KEY, DEVICE_ID and SHOTS (a
// directory for screenshots) in the environment. Prints one line per step
// and exits non-zero on the first failure.
import { chromium } from 'playwright-core';

const { BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID, SHOTS } = process.env;
if (!BASE_URL || !ADMIN_KEY || !VIEWER_KEY || !DEVICE_ID || !SHOTS) {
  console.error('BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID and SHOTS are required');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--autoplay-policy=no-user-gesture-required',
  ],
});

const problems = []; // CSP violations, page errors, keys in URLs
let step = 'start';
const t0 = Date.now();
const log = (m) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s ${m}`);
const shot = async (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (r.url().includes(ADMIN_KEY)) problems.push('the API key is in a URL: ' + r.url());
  });
  const rows = () => page.locator('[data-testid=device-row]');

  step = 'login';
  await page.goto(`${BASE_URL}/`);
  await page.waitForURL(/\/console\/login/);
  await page.fill('[data-testid=login-key]', 'not-a-valid-key');
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=field-error]');
  await page.fill('[data-testid=login-key]', ADMIN_KEY);
  await page.click('[data-testid=login-submit]');
  await page.waitForURL(/\/console\/devices$/);
  const role = await page.textContent('[data-testid=role]');
  if (!role.includes('admin')) throw new Error(`role shown: ${role}`);
  log('ok login (role admin)');

  step = 'device list';
  const row = page.locator(`[data-testid=device-row][data-device-id="${DEVICE_ID}"]`);
  await row.waitFor();
  const status = (await row.locator('[data-testid=device-status]').textContent()).trim();
  if (!['online', 'offline', 'unknown'].includes(status)) throw new Error(`status ${status}`);
  await shot(page, '1-devices');
  log(`ok device list shows ${DEVICE_ID} (${status})`);

  step = 'add device with a bad URL';
  await page.fill('#add-name', 'bad camera');
  await page.fill('#add-url', 'http://not-rtsp.example/stream');
  await page.click('[data-testid=add-submit]');
  const fe = page.locator('[data-testid=field-error][data-field=url]');
  await fe.waitFor();
  const msg = (await fe.textContent()).trim();
  await shot(page, '2-field-error');
  log(`ok field-error next to url: ${msg}`);

  step = 'add and remove a device';
  await page.fill('#add-id', 'temp-1');
  await page.fill('#add-name', 'temporary');
  await page.fill('#add-url', 'rtsp://127.0.0.1:9/none');
  await page.click('[data-testid=add-submit]');
  const temp = page.locator('[data-testid=device-row][data-device-id="temp-1"]');
  await temp.waitFor();
  if ((await page.locator('[data-testid=field-error]').count()) !== 0) throw new Error('a field error stayed after a good add');
  await temp.locator('[data-testid=device-remove]').click(); // asks for confirmation
  await temp.locator('[data-testid=device-remove]').click();
  await temp.waitFor({ state: 'detached' });
  log('ok add and remove');

  step = 'label filter';
  await page.fill('#label-filter', 'site:nowhere');
  await page.press('#label-filter', 'Enter');
  await page.waitForURL(/label=site%3Anowhere/);
  await page.waitForSelector('td.empty');
  if ((await rows().count()) !== 0) throw new Error('the filter site:nowhere still lists devices');
  await page.goto(`${BASE_URL}/console/devices?label=site:hq`); // a deep link (sessionStorage survives)
  await row.waitFor();
  await page.click('text=Clear');
  await page.waitForURL(/\/console\/devices$/);
  await row.waitFor();
  log('ok label filter, in the URL');

  step = 'cursor paging';
  const ids = async () => rows().evaluateAll((rs) => rs.map((r) => r.getAttribute('data-device-id')));
  await page.goto(`${BASE_URL}/console/devices?limit=2`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=device-row]').length === 2);
  const first = await ids();
  await page.click('[data-testid=page-next]');
  await page.waitForFunction((f) => {
    const now = [...document.querySelectorAll('[data-testid=device-row]')].map((r) => r.getAttribute('data-device-id'));
    return now.length > 0 && !now.some((id) => f.includes(id));
  }, first);
  const second = await ids();
  await page.click('[data-testid=page-prev]');
  await page.waitForFunction((f) => {
    const now = [...document.querySelectorAll('[data-testid=device-row]')].map((r) => r.getAttribute('data-device-id'));
    return now.join() === f.join();
  }, first);
  log(`ok cursor paging: [${first}] then [${second}]`);
  await page.goto(`${BASE_URL}/console/devices`);
  await row.waitFor();

  step = 'device page';
  await row.locator('a').first().click();
  await page.waitForURL(new RegExp(`/console/devices/${DEVICE_ID}$`));
  await page.waitForSelector('[data-testid=live-video]');
  const played = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=live-video]');
      return v && v.currentTime > 1 && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth, h: v.videoHeight } : false;
    },
    null,
    { timeout: 45000, polling: 250 },
  );
  const p = await played.jsonValue();
  await page.waitForSelector('[data-testid=event-item]');
  const events = await page.locator('[data-testid=event-item]').count();
  await shot(page, '3-device-live');
  log(`ok video plays: currentTime ${p.t.toFixed(1)} s, ${p.w}x${p.h}; ${events} events`);

  step = 'deep link reload';
  await page.reload();
  await page.waitForSelector('[data-testid=live-video]');
  await page.waitForSelector('[data-testid=event-item]');
  log('ok deep link survives a reload');

  step = 'live grid';
  await page.click('text=Live');
  await page.waitForURL(/\/console\/live$/);
  await page.click('button:text-is("3×3")');
  await page.waitForURL(/layout=9/);
  if ((await page.locator('.grid > *').count()) !== 9) throw new Error('the 3×3 grid has not 9 tiles');
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=live-video]');
    return v && v.currentTime > 0.5 && v.videoWidth > 0;
  }, null, { timeout: 45000, polling: 250 });
  await shot(page, '4-live-grid');
  log('ok live grid 3×3 plays');

  step = 'viewer';
  const vctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const vp = await vctx.newPage();
  vp.setDefaultTimeout(20000);
  vp.on('pageerror', (e) => problems.push('page error (viewer): ' + e.message));
  await vp.goto(`${BASE_URL}/console/devices/${DEVICE_ID}`); // a deep link before login
  await vp.waitForURL(/\/console\/login\?next=/);
  await vp.fill('[data-testid=login-key]', VIEWER_KEY);
  await vp.click('[data-testid=login-submit]');
  await vp.waitForURL(new RegExp(`/console/devices/${DEVICE_ID}$`)); // back where it was going
  await vp.waitForSelector('[data-testid=event-item]');
  if (!(await vp.textContent('[data-testid=role]')).includes('viewer')) throw new Error('viewer role not shown');
  await vp.click('text=Devices');
  await vp.locator(`[data-testid=device-row][data-device-id="${DEVICE_ID}"]`).waitFor();
  if ((await vp.locator('[data-testid=add-device], [data-testid=device-remove]').count()) !== 0)
    throw new Error('a viewer sees the add form or remove buttons');
  await shot(vp, '5-viewer');
  log('ok viewer: read-only controls');

  if (problems.length) throw new Error(problems.join('\n'));
  log('PASS');
} catch (e) {
  console.error(`FAIL at ${step}: ${e && e.stack ? e.stack : e}`);
  if (problems.length) console.error(problems.join('\n'));
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await shot(pages[0], 'failure');
  } catch {}
  process.exitCode = 1;
} finally {
  await browser.close();
}

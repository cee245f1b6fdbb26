// The console scenario in a real browser (Debian's chromium, headless), run
// by console_test.go with BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID,
// GRID_TILES, ONVIF_TARGET (the ONVIF camera's WS-Discovery host:port),
// ONVIF_URL (its device service) and SHOTS (a directory for screenshots) in
// the environment. Prints one line per step
// and exits non-zero on the first failure.
import { launch, scenario, shooter, timedLog } from './harness.mjs';

const { BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID, GRID_TILES, ONVIF_TARGET, ONVIF_URL, SHOTS } = process.env;
if (!BASE_URL || !ADMIN_KEY || !VIEWER_KEY || !DEVICE_ID || !GRID_TILES || !ONVIF_TARGET || !ONVIF_URL || !SHOTS) {
  console.error('BASE_URL, ADMIN_KEY, VIEWER_KEY, DEVICE_ID, GRID_TILES, ONVIF_TARGET, ONVIF_URL and SHOTS are required');
  process.exit(2);
}

const browser = await launch();

const problems = []; // CSP violations, page errors, keys in URLs
let step = 'start';
const log = timedLog();
const shot = shooter(SHOTS);
const ONVIF_ID = 'ptz-1';
/** ptzPos is the PTZ pad's position (data-pan/-tilt/-zoom), null before the first read. */
const ptzPos = (page) =>
  page.locator('[data-testid=ptz-position]').evaluate((e) =>
    e.dataset.pan === undefined ? null : { pan: Number(e.dataset.pan), tilt: Number(e.dataset.tilt), zoom: Number(e.dataset.zoom), moving: e.dataset.moving === 'true' },
  );
/** waitPan waits until the pad shows a pan in [min, max] (and the head is still), and answers it. */
const waitPan = async (page, [min, max], what, timeout = 10000) => {
  const h = await page.waitForFunction(
    ([lo, hi]) => {
      const e = document.querySelector('[data-testid=ptz-position]');
      if (!e || e.dataset.pan === undefined || e.dataset.moving === 'true') return false;
      const pan = Number(e.dataset.pan);
      return pan >= lo && pan <= hi ? { pan } : false;
    },
    [min, max],
    { timeout, polling: 100 },
  ).catch(async (e) => {
    throw new Error(`${what}: position ${JSON.stringify(await ptzPos(page))}: ${e.message}`);
  });
  return (await h.jsonValue()).pan;
};

await scenario(browser, shot, problems, () => step, log, async () => {
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

  step = 'onvif: wrong password';
  const addForm = page.locator('[data-testid=add-device]');
  await page.check('#add-mode-onvif');
  await page.fill('#add-name', 'wrong password');
  await page.fill('#add-onvif', ONVIF_URL);
  await page.fill('#add-username', 'admin');
  await page.fill('#add-password', 'not-the-password');
  await page.click('[data-testid=add-submit]');
  const pwErr = addForm.locator('[data-testid=field-error][data-field=password]');
  await pwErr.waitFor();
  log(`ok ONVIF add with a wrong password: field-error next to password: ${(await pwErr.textContent()).trim()}`);

  step = 'onvif: discovery and add';
  await page.fill('#discover-targets', ONVIF_TARGET);
  await page.click('[data-testid=discover-run]');
  const cand = page.locator('[data-testid=discover-item]').first();
  await cand.waitFor();
  const candAddr = await cand.getAttribute('data-address');
  if (candAddr.replace(/\/$/, '') !== ONVIF_URL.replace(/\/$/, '')) throw new Error(`discovered ${candAddr}, want ${ONVIF_URL}`);
  const candText = (await cand.locator('.cand-what').textContent()).replace(/\s+/g, ' ').trim();
  await shot(page, '2b-discovery');
  await cand.locator('[data-testid=discover-add]').click();
  await page.waitForFunction(() => document.activeElement?.id === 'add-username');
  if ((await page.inputValue('#add-onvif')) !== candAddr) throw new Error(`the add form has onvif ${await page.inputValue('#add-onvif')}`);
  const addName = await page.inputValue('#add-name');
  if (!addName) throw new Error('Add left the name empty');
  await page.fill('#add-id', ONVIF_ID);
  await page.fill('#add-username', 'admin');
  await page.fill('#add-password', 'pw');
  await page.click('[data-testid=add-submit]');
  const onvRow = page.locator(`[data-testid=device-row][data-device-id="${ONVIF_ID}"]`);
  await onvRow.waitFor({ timeout: 30000 });
  if ((await addForm.locator('[data-testid=field-error]').count()) !== 0) throw new Error('a field error stayed after the ONVIF add');
  await page.locator(`[data-testid=discover-item][data-address="${candAddr}"][data-added=true]`).waitFor(); // marked here at once
  await page.click('[data-testid=discover-run]'); // and by the server
  await page.locator(`[data-testid=discover-item][data-address="${candAddr}"] [data-testid=discover-added]`).waitFor();
  log(`ok discovery found "${candText}"; Add filled the form (name "${addName}", username focused); ${ONVIF_ID} added, then listed as added`);

  step = 'onvif: device page, PTZ';
  await onvRow.locator('a').first().click();
  await page.waitForURL(new RegExp(`/console/devices/${ONVIF_ID}$`));
  await page.locator('[data-testid=camera]').waitFor();
  const model = (await page.textContent('[data-testid=camera-model]')).trim();
  const maker = (await page.textContent('[data-testid=camera-manufacturer]')).trim();
  const serial = (await page.textContent('[data-testid=camera-serial]')).trim();
  if (!model || model === '—' || !maker || maker === '—') throw new Error(`camera info: ${maker} ${model}`);
  await page.locator('[data-testid=ptz]').waitFor();
  const pan0 = await waitPan(page, [-1, 1], 'first position');
  await page.hover('[data-testid=ptz-right]');
  await page.mouse.down();
  await page.waitForTimeout(600);
  await page.mouse.up();
  await page.click('[data-testid=ptz-stop]');
  const pan1 = await waitPan(page, [pan0 + 0.1, 1], 'after holding right for 600 ms');
  await page.fill('[data-testid=ptz-preset-name]', 'door');
  await page.click('[data-testid=ptz-preset-save]');
  const door = page.locator('[data-testid=ptz-preset][data-name=door]');
  await door.waitFor();
  await page.click('[data-testid=ptz-home]');
  const home = await waitPan(page, [pan0 - 0.01, pan0 + 0.01], 'after home');
  await door.locator('[data-testid=ptz-preset-goto]').click();
  const back = await waitPan(page, [pan1 - 0.01, pan1 + 0.01], 'after going to door');
  await page.click('[data-testid=ptz-left]'); // a click: a short move
  const tap = await waitPan(page, [back - 0.4, back - 0.05], 'after a click on left');
  log(`ok ${ONVIF_ID}: ${maker} ${model} (serial ${serial}); held right: pan ${pan0} → ${pan1.toFixed(3)}; preset door, home ${home}, back to door ${back.toFixed(3)}; a click left: ${tap.toFixed(3)}`);

  step = 'onvif: snapshot and refresh';
  const snap = await page.waitForFunction(
    () => {
      const i = document.querySelector('img[data-testid=snapshot]');
      return i && i.complete && i.naturalWidth > 0 ? { w: i.naturalWidth, h: i.naturalHeight, src: i.getAttribute('src') } : false;
    },
    null,
    { timeout: 20000, polling: 200 },
  );
  const sn = await snap.jsonValue();
  if (sn.w !== 640) throw new Error(`snapshot ${sn.w}x${sn.h}`);
  if (!/[?&]token=/.test(sn.src)) throw new Error(`the snapshot is not asked for with a token: ${sn.src}`);
  await page.click('[data-testid=snapshot-refresh]');
  await page.waitForFunction((old) => {
    const i = document.querySelector('img[data-testid=snapshot]');
    return i && i.getAttribute('src') !== old && i.complete && i.naturalWidth === 640;
  }, sn.src);
  await page.click('[data-testid=onvif-refresh]');
  const refreshed = (await page.locator('[data-testid=onvif-refresh-note]').textContent()).trim();
  await shot(page, '2c-onvif-device');
  log(`ok snapshot ${sn.w}x${sn.h} (live token in the URL), refreshed; read camera again: ${refreshed}`);
  await page.goto(`${BASE_URL}/console/devices`);
  await row.waitFor();

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

  step = 'edit device';
  await page.fill('#edit-name', 'front door (edited)');
  await page.click('[data-testid=device-edit-submit]');
  await page.waitForFunction(() => document.querySelector('h1')?.textContent?.includes('front door (edited)'));
  await page.fill('#edit-url', 'ftp://wrong');
  await page.click('[data-testid=device-edit-submit]');
  await page.locator('[data-testid=device-edit] [data-testid=field-error][data-field=url]').waitFor();
  await page.fill('#edit-url', '');
  await page.reload();
  await page.waitForSelector('[data-testid=device-edit]');
  log('ok edit device: name saved (If-Match), field error for a bad URL');

  step = 'plan, timeline, playback';
  await page.selectOption('[data-testid=plan-mode]', 'continuous');
  await page.fill('#plan-segment_seconds', '10');
  await page.click('[data-testid=plan-save]');
  await page.waitForFunction(() => document.querySelector('[data-testid=plan-state]')?.textContent?.trim() === 'recording', null, { timeout: 20000 });
  await page.locator('[data-testid=timeline] [data-testid=timeline-segment]').first().waitFor({ timeout: 60000 });
  const segs = await page.locator('[data-testid=timeline-segment]').count();
  // Segments let clicks through to the bar, which plays from the instant
  // under the pointer (or from the next segment).
  const box = await page.locator('[data-testid=timeline-segment]').first().boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const pb = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=playback-video]');
      return v && v.currentTime > 0.5 && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth } : false;
    },
    null,
    { timeout: 45000, polling: 250 },
  );
  const pbv = await pb.jsonValue();
  await page.locator('[data-testid=timeline-cursor]').waitFor();
  await shot(page, '3b-timeline-playback');
  log(`ok plan continuous → ${segs} segment(s) on the timeline; playback plays (${pbv.t.toFixed(1)} s, ${pbv.w} px wide)`);

  step = 'download a range';
  const seg = page.locator('[data-testid=timeline-segment]').first();
  const segStart = new Date(await seg.getAttribute('data-start'));
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  await page.fill('[data-testid=download-from]', local(segStart));
  await page.fill('[data-testid=download-to]', local(new Date(segStart.getTime() + 8000)));
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('[data-testid=download-mp4]')]);
  const file = await download.path();
  const { statSync } = await import('node:fs');
  const size = statSync(file).size;
  if (size < 1000) throw new Error(`the downloaded MP4 has ${size} bytes`);
  log(`ok download of 8 s as MP4: ${download.suggestedFilename()} (${size} bytes)`);

  step = 'deep link reload';
  await page.reload();
  await page.waitForSelector('[data-testid=live-video]');
  await page.waitForSelector('[data-testid=event-item]');
  log('ok deep link survives a reload');

  step = 'alarms';
  const api = (method, path, body, key = ADMIN_KEY) =>
    fetch(`${BASE_URL}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const raise = async () => {
    const r = await api('POST', '/v1/alarms', { device: DEVICE_ID, channel: 1, type: 'door', severity: 'major', message: 'forced' });
    if (r.status !== 201) throw new Error(`raise: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const openCount = async () => (await (await api('GET', '/v1/alarms?state=open&limit=1000')).json()).items.length;
  /** badgeMatches waits until the nav's badge shows what the API counts (other alarms may come and go meanwhile). */
  const badgeMatches = async (pg, what) => {
    const until = Date.now() + 12000;
    for (;;) {
      const want = await openCount();
      const b = pg.locator('[data-testid=alarms-badge]');
      const got = (await b.count()) ? Number(await b.getAttribute('data-count')) : 0;
      if (got === want) return got;
      if (Date.now() > until) throw new Error(`${what}: the badge shows ${got}, the API counts ${want} open alarms`);
      await pg.waitForTimeout(300);
    }
  };
  const alarmT0 = Date.now();
  const raised = await raise();
  await page.click('[data-testid=nav-alarms]');
  await page.waitForURL(/\/console\/alarms$/);
  const arow = page.locator(`[data-testid=alarm-row][data-id="${raised.id}"]`);
  await arow.locator('[data-testid=alarm-severity]', { hasText: 'major' }).waitFor();
  if ((await arow.getAttribute('data-state')) !== 'raised') throw new Error(`state ${await arow.getAttribute('data-state')}`);
  const badge1 = await badgeMatches(page, 'after the raise');
  if (badge1 < 1) throw new Error('no badge after a raise');
  await page.goto(`${BASE_URL}/console/alarms?device=${DEVICE_ID}&type=door`); // filters in the URL
  await arow.waitFor();
  if ((await page.locator('[data-testid=alarm-row]').count()) !== 1) throw new Error('the device/type filter lists other alarms');
  await arow.locator('[data-testid=alarm-note]').fill('on my way');
  await arow.locator('[data-testid=alarm-ack]').click();
  await page.locator(`[data-testid=alarm-row][data-id="${raised.id}"][data-state=acknowledged]`).waitFor();
  if ((await arow.locator('[data-testid=alarm-ack]').count()) !== 0) throw new Error('Ack is still offered once acknowledged');
  await arow.locator('[data-testid=alarm-expand]').click();
  const details = page.locator(`[data-testid=alarm-details][data-id="${raised.id}"]`);
  if (!(await details.locator('[data-testid=alarm-acked]').textContent()).includes('on my way')) throw new Error('the note is not shown');
  // The picture taken at the raise (fetched with the key, shown as data:), once the list names it.
  const pic = await page
    .waitForFunction(
      () => {
        const i = document.querySelector('[data-testid=alarm-details] img[data-testid=alarm-picture]');
        return i && i.complete && i.naturalWidth > 0 ? { w: i.naturalWidth, data: i.getAttribute('src').startsWith('data:image/jpeg;base64,') } : false;
      },
      null,
      { timeout: 10000, polling: 200 },
    )
    .then((h) => h.jsonValue());
  if (!pic.data) throw new Error('the alarm picture is not a data: URL');
  await shot(page, '9-alarms');
  // Its recording: the device page at the alarm's instant, with its mark on the timeline.
  const recT0 = Date.now();
  await details.locator('[data-testid=alarm-recording]').click();
  await page.waitForURL((u) => u.pathname === `/console/devices/${DEVICE_ID}` && u.searchParams.get('t') === String(Date.parse(raised.raised_at)));
  const mark = page.locator(`[data-testid=timeline-alarm][data-id="${raised.id}"]`);
  await mark.waitFor();
  if (!(await mark.getAttribute('title')).startsWith('door: forced')) throw new Error(`mark title ${await mark.getAttribute('title')}`);
  await page.waitForFunction(
    (t) => {
      const c = document.querySelector('[data-testid=timeline-cursor]');
      const v = document.querySelector('[data-testid=playback-video]');
      return c && Math.abs(Date.parse(c.dataset.time) - t) < 15000 && v && v.videoWidth > 0;
    },
    Date.parse(raised.raised_at),
    { timeout: 25000, polling: 250 },
  );
  const recS = (Date.now() - recT0) / 1000;
  await shot(page, '9b-alarm-recording');
  await mark.click(); // plays from the mark as a click on the bar would
  await page.goBack();
  await page.waitForURL(/\/console\/alarms\?/);
  await arow.locator('[data-testid=alarm-note]').fill('door closed');
  await arow.locator('[data-testid=alarm-clear]').click();
  await arow.waitFor({ state: 'detached' });
  const cleared = await (await api('GET', `/v1/alarms/${encodeURIComponent(raised.id)}`)).json();
  if (cleared.state !== 'cleared' || cleared.clear_reason !== 'door closed' || cleared.note !== 'on my way')
    throw new Error(`after Clear: ${JSON.stringify(cleared)}`);
  await badgeMatches(page, 'after the clear');
  await page.click('[data-testid=alarm-history-tab]');
  await page.waitForURL(/tab=history/);
  const unav = (await page.locator('[data-testid=alarms-unavailable] p').first().textContent()).trim();
  if (!/ClickHouse/.test(unav)) throw new Error(`history without ClickHouse: ${unav}`);
  log(`ok alarms (${((Date.now() - alarmT0) / 1000).toFixed(1)} s): raised ${raised.id} listed, badge ${badge1}; acked with a note, picture ${pic.w} px (data:), ` +
    `recording link plays at its instant (in ${recS.toFixed(1)} s) with its mark on the timeline; cleared (left the open list); history without ClickHouse: "${unav}"`);

  step = 'event plan and motion detection';
  const evT0 = Date.now();
  const chan = `/v1/devices/${encodeURIComponent(DEVICE_ID)}/channels/1`;
  await page.goto(`${BASE_URL}/console/devices/${DEVICE_ID}`);
  await page.locator('[data-testid=plan-current-mode]', { hasText: 'continuous' }).waitFor();
  await page.selectOption('[data-testid=plan-mode]', 'event');
  await page.fill('[data-testid=plan-preroll]', '3');
  await page.fill('[data-testid=plan-postroll]', '999');
  await page.fill('[data-testid=plan-triggers]', 'door');
  await page.uncheck('[data-testid=plan-audio]');
  await page.click('[data-testid=plan-save]');
  await page.locator('[data-testid=plan-editor] [data-testid=field-error][data-field="event.post_roll_seconds"]').waitFor();
  await page.fill('[data-testid=plan-postroll]', '2');
  await page.click('[data-testid=plan-save]');
  await page.locator('[data-testid=plan-editor] .ok', { hasText: 'saved' }).waitFor();
  await page.locator('[data-testid=plan-current-mode]', { hasText: 'event' }).waitFor();
  const evPlan = await (await api('GET', `${chan}/plan`)).json();
  if (evPlan.mode !== 'event' || evPlan.event?.pre_roll_seconds !== 3 || evPlan.event?.post_roll_seconds !== 2 || evPlan.event?.triggers?.join() !== 'door' || evPlan.audio !== false)
    throw new Error(`the event plan saved: ${JSON.stringify(evPlan)}`);
  // A door alarm: the event plan records it (from the pre-roll to 2 s after), a segment marked with it,
  // written while the motion panel is used.
  const evAlarm = await raise();
  await page.check('[data-testid=motion-enabled]');
  await page.fill('[data-testid=motion-zones]', '[[0,0,2,1]]');
  await page.click('[data-testid=motion-save]');
  const zoneErr = (await page.locator('[data-testid=motion] [data-testid=field-error][data-field=zones]').textContent()).trim();
  await page.fill('[data-testid=motion-zones]', '[[0,0,0.6,1]]');
  await page.fill('[data-testid=motion-sensitivity]', '0.7');
  await page.fill('[data-testid=motion-cooldown]', '1500');
  await page.click('[data-testid=motion-save]');
  await page.locator('[data-testid=motion-state]', { hasText: /^enabled$/ }).waitFor();
  const mo = await (await api('GET', `${chan}/motion`)).json();
  if (!mo.enabled || mo.sensitivity !== 0.7 || mo.cooldown_ms !== 1500 || JSON.stringify(mo.zones) !== '[[0,0,0.6,1]]' || mo.alarm_type !== 'video_motion')
    throw new Error(`motion saved: ${JSON.stringify(mo)}`);
  await shot(page, '10-event-plan-motion');
  // Off again: the rest of the scenario runs without the detector's alarms.
  const moOff = await api('PUT', `${chan}/motion`, { enabled: false });
  if (moOff.status !== 200) throw new Error(`motion off: ${moOff.status} ${await moOff.text()}`);
  await page.goto(`${BASE_URL}/console/devices/${DEVICE_ID}?t=${Date.parse(evAlarm.raised_at)}`); // reads every 2 s until recorded
  const evSeg = page.locator(`[data-testid=timeline-segment].timeline-segment-alarm[data-alarms*="${evAlarm.id}"]`).first();
  await evSeg.waitFor({ timeout: 15000 });
  await api('POST', `/v1/alarms/${encodeURIComponent(evAlarm.id)}/clear`, { reason: 'recorded' });
  const evSegS = (Date.parse(await evSeg.getAttribute('data-end')) - Date.parse(await evSeg.getAttribute('data-start'))) / 1000;
  log(`ok event plan (${((Date.now() - evT0) / 1000).toFixed(1)} s): post-roll 999 named at its field, then pre-roll 3, post-roll 2, triggers door saved; ` +
    `motion: bad zone named ("${zoneErr}"), then enabled (sensitivity 0.7, zone [0,0,0.6,1]); a door alarm recorded (${evSegS.toFixed(1)} s segment, data-alarms)`);

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

  step = 'tile picker';
  await page.goto(`${BASE_URL}/console/live?layout=1`);
  await page.click('[data-testid=tiles-edit]');
  const pick = GRID_TILES.split(',')[2];
  await page.fill('[data-testid=tile-input]', pick);
  await page.click('[data-testid=tiles-apply]');
  await page.waitForURL((u) => u.searchParams.get('tiles') === pick);
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=live-video]');
    return v && v.currentTime > 0.3 && v.videoWidth > 0;
  }, null, { timeout: 45000, polling: 250 });
  log(`ok tile picker: ${pick} in the URL, playing`);

  step = '16-tile grid';
  const sixteen = [`${DEVICE_ID}:1`, ...GRID_TILES.split(',')].slice(0, 16);
  await page.goto(`${BASE_URL}/console/live?layout=16&tiles=${encodeURIComponent(sixteen.join(','))}`);
  await page.waitForFunction(
    () => {
      const vs = [...document.querySelectorAll('[data-testid=live-video]')];
      return vs.length === 16 && vs.every((v) => v.currentTime > 0.3 && v.videoWidth > 0);
    },
    null,
    { timeout: 90000, polling: 500 },
  );
  await shot(page, '4b-live-grid-16');
  log('ok 16-tile grid: 16 streams play');

  step = 'events feed';
  await page.goto(`${BASE_URL}/console/events`);
  await page.waitForFunction(() => document.querySelector('[data-testid=feed-state]')?.textContent?.trim() === 'live');
  const resp = await fetch(`${BASE_URL}/v1/devices`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: 'feed-1', name: 'from the feed test', url: 'rtsp://127.0.0.1:9/none' }),
  });
  if (resp.status !== 201) throw new Error(`create feed-1: ${resp.status}`);
  await page.locator('[data-testid=event-item][data-type="device.registered"]', { hasText: 'feed-1' }).first().waitFor();
  await page.goto(`${BASE_URL}/console/events?kind=device&aggregate=feed-1`);
  await page.locator('[data-testid=event-item]').first().waitFor();
  const types = await page.locator('[data-testid=event-item]').evaluateAll((xs) => xs.map((x) => x.getAttribute('data-type')));
  if (!types.every((t) => t.startsWith('device.'))) throw new Error(`the kind filter let through ${types}`);
  await page.goto(`${BASE_URL}/console/events?kind=camera`);
  await page.locator('[data-testid=field-error][data-field=kind]').waitFor();
  await shot(page, '6-events');
  log(`ok events feed: a new device.registered arrives live; filters (${types.length} device events of feed-1); bad kind named`);

  step = 'cluster';
  await page.goto(`${BASE_URL}/console/cluster`);
  await page.locator('[data-testid=cluster-node]').first().waitFor();
  const nodes = await page.locator('[data-testid=cluster-node]').count();
  const shards = await page.locator('[data-testid=shard-map] [data-shard]').count();
  if (shards < 1) throw new Error('the shard map is empty');
  await shot(page, '7-cluster');
  log(`ok cluster: ${nodes} node(s), ${shards} shards in the map`);

  step = 'keys';
  await page.goto(`${BASE_URL}/console/keys`);
  await page.waitForSelector('[data-testid=key-create]');
  await page.fill('#key-name', 'console-made');
  await page.selectOption('#key-role', 'operator');
  await page.click('[data-testid=key-create-submit]');
  const created = await page.locator('[data-testid=key-created] input').inputValue();
  const made = created.match(/ak_[0-9a-f]{40}/);
  if (!made) throw new Error(`no key shown once: ${created}`);
  const mine = await fetch(`${BASE_URL}/v1/whoami`, { headers: { Authorization: `Bearer ${made[0]}` } }).then((r) => r.json());
  if (mine.role !== 'operator') throw new Error(`the new key is ${JSON.stringify(mine)}`);
  const krow = page.locator('[data-testid=key-row]', { hasText: 'console-made' });
  await krow.waitFor();
  await shot(page, '8-keys');
  await krow.locator('[data-testid=key-delete]').click();
  await krow.locator('[data-testid=key-delete]').click();
  await krow.waitFor({ state: 'detached' });
  const gone = await fetch(`${BASE_URL}/v1/whoami`, { headers: { Authorization: `Bearer ${made[0]}` } });
  if (gone.status !== 401) throw new Error(`a deleted key answers ${gone.status}`);
  log('ok keys: created (shown once, works as operator), deleted (401 after)');

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
  if ((await vp.locator('text=Keys').count()) !== 0) throw new Error('a viewer sees the keys page link');
  await vp.goto(`${BASE_URL}/console/devices/${DEVICE_ID}`);
  await vp.waitForSelector('[data-testid=plan-editor]');
  await vp.waitForSelector('[data-testid=timeline]');
  await vp.locator('[data-testid=plan-editor]', { hasText: 'door' }).waitFor(); // the event plan's triggers
  await vp.locator('[data-testid=plan-editor]', { hasText: 'not recorded' }).waitFor(); // its audio off
  await vp.locator('[data-testid=motion-state]', { hasText: /^disabled$/ }).waitFor();
  if ((await vp.locator('[data-testid=device-edit], [data-testid=plan-save], [data-testid=plan-mode], [data-testid=motion-save], [data-testid=motion-enabled]').count()) !== 0)
    throw new Error('a viewer sees the device edit form, plan or motion controls');
  await shot(vp, '5-viewer');
  await vp.goto(`${BASE_URL}/console/devices/${ONVIF_ID}`);
  await vp.locator('[data-testid=ptz]').waitFor();
  await vp.locator('[data-testid=ptz-preset][data-name=door]').waitFor();
  const vpan = await waitPan(vp, [-1, 1], 'viewer position');
  const ctl = '[data-testid=ptz-left], [data-testid=ptz-right], [data-testid=ptz-up], [data-testid=ptz-down], [data-testid=ptz-zoom-in], ' +
    '[data-testid=ptz-zoom-out], [data-testid=ptz-home], [data-testid=ptz-stop], [data-testid=ptz-preset-save], [data-testid=ptz-preset-goto], ' +
    '[data-testid=ptz-preset-delete], [data-testid=onvif-refresh]';
  if ((await vp.locator(ctl).count()) !== 0) throw new Error('a viewer sees PTZ controls or "Read camera again"');
  await shot(vp, '5b-viewer-ptz');
  log(`ok viewer: read-only controls; on ${ONVIF_ID} the PTZ position (pan ${vpan.toFixed(3)}) and presets, no PTZ controls`);

  step = 'viewer: alarms';
  const vAlarm = await raise();
  await vp.click('[data-testid=nav-alarms]');
  const vrow = vp.locator(`[data-testid=alarm-row][data-id="${vAlarm.id}"]`);
  await vrow.waitFor();
  await badgeMatches(vp, 'viewer');
  if ((await vp.locator('[data-testid=alarm-ack], [data-testid=alarm-clear], [data-testid=alarm-note]').count()) !== 0)
    throw new Error('a viewer sees Ack, Clear or the note');
  await shot(vp, '9c-viewer-alarms');
  const vclear = await api('POST', `/v1/alarms/${encodeURIComponent(vAlarm.id)}/clear`, undefined, VIEWER_KEY);
  if (vclear.status !== 403) throw new Error(`a viewer's clear: ${vclear.status}`);
  await api('POST', `/v1/alarms/${encodeURIComponent(vAlarm.id)}/clear`);
  log('ok viewer: the open alarm listed with the badge, no Ack, Clear or note');

});

// The WebRTC live view in a real browser (Debian's chromium, headless), run
// by webrtc_test.go with BASE_URL, ADMIN_KEY, RTC_DEVICE (an H.264 camera
// with Opus audio), HEVC_DEVICE (an H.265 camera) and SHOTS (a directory
// for screenshots) in the environment. Prints one line per step and exits
// non-zero on the first failure.
import { launch, scenario, shooter, timedLog } from './harness.mjs';

const { BASE_URL, ADMIN_KEY, RTC_DEVICE, HEVC_DEVICE, SHOTS } = process.env;
if (!BASE_URL || !ADMIN_KEY || !RTC_DEVICE || !HEVC_DEVICE || !SHOTS) {
  console.error('BASE_URL, ADMIN_KEY, RTC_DEVICE, HEVC_DEVICE and SHOTS are required');
  process.exit(2);
}

const browser = await launch();

const problems = []; // CSP violations, page errors, keys in URLs
let step = 'start';
const log = timedLog();
const shot = shooter(SHOTS);
/** api calls the API from node with the admin key. */
const api = async (method, path) => {
  const r = await fetch(BASE_URL + path, { method, headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};
/** readers is the number of readers of a device's stream (0 without one). */
const readers = async (device) => {
  const r = await api('GET', '/v1/streams');
  if (r.status !== 200) throw new Error(`GET /v1/streams: ${r.status}`);
  return r.body.items.filter((s) => s.device === device).reduce((n, s) => n + s.readers, 0);
};
/** transport waits for the live view's transport to be want, and answers its title (why). */
const transport = async (page, want, timeout = 15000) => {
  const h = await page.waitForFunction(
    (w) => {
      const e = document.querySelector('[data-testid=live-transport]');
      return e && e.textContent.trim() === w ? { why: e.title } : false;
    },
    want,
    { timeout, polling: 100 },
  ).catch(async (e) => {
    const got = await page.locator('[data-testid=live-transport]').textContent({ timeout: 100 }).catch(() => '(none)');
    const cap = await page.locator('.live figcaption').first().textContent({ timeout: 100 }).catch(() => '');
    throw new Error(`live-transport ${JSON.stringify(got)} (caption "${cap}"), want ${want}: ${e.message}`);
  });
  return (await h.jsonValue()).why;
};

await scenario(browser, shot, problems, () => step, log, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  const whep = []; // WHEP requests: method and URL
  page.on('request', (r) => {
    if (r.url().includes(ADMIN_KEY)) problems.push('the API key is in a URL: ' + r.url());
    if (r.url().includes('/whep/') && r.method() !== 'OPTIONS') whep.push({ method: r.method(), url: r.url() });
  });

  step = 'login';
  await page.goto(`${BASE_URL}/console/login?next=${encodeURIComponent('/devices/' + RTC_DEVICE)}`);
  await page.fill('[data-testid=login-key]', ADMIN_KEY);
  await page.click('[data-testid=login-submit]');
  await page.waitForURL(new RegExp(`/console/devices/${RTC_DEVICE}$`));

  step = 'webrtc: plays';
  const opened = Date.now();
  const why = await transport(page, 'webrtc');
  const first = await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=live-video]');
    return v && v.srcObject && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth, h: v.videoHeight } : false;
  }, undefined, { polling: 100 }).then((h) => h.jsonValue());
  const tookMs = Date.now() - opened;
  await page.waitForTimeout(2000);
  const later = await page.locator('[data-testid=live-video]').evaluate((v) => ({
    t: v.currentTime,
    w: v.videoWidth,
    muted: v.muted,
    paused: v.paused,
    audio: v.srcObject ? v.srcObject.getAudioTracks().length : -1,
    video: v.srcObject ? v.srcObject.getVideoTracks().length : -1,
    src: v.getAttribute('src'),
  }));
  if (later.t - first.t < 1.2) throw new Error(`currentTime ${first.t} → ${later.t} over 2 s`);
  if (later.w <= 0 || later.video !== 1 || later.src) throw new Error(`video ${JSON.stringify(later)}`);
  if (later.audio !== 1) throw new Error(`the Opus camera's stream has ${later.audio} audio tracks`);
  if (!later.muted || later.paused) throw new Error(`starts muted and playing: ${JSON.stringify(later)}`);
  const posts = whep.filter((r) => r.method === 'POST');
  if (posts.length !== 1 || !posts[0].url.includes(`/whep/${RTC_DEVICE}/1?token=`)) throw new Error(`WHEP requests ${JSON.stringify(whep)}`);
  if ((await page.locator('[data-testid=live-audio-toggle]').getAttribute('data-muted')) !== 'true') throw new Error('the toggle does not say muted');
  await shot(page, '1-webrtc');
  log(`ok webrtc ("${why}"): video after ${tookMs} ms, currentTime ${first.t.toFixed(1)} → ${later.t.toFixed(1)} s over 2 s, ${later.w}x${first.h}, an audio track, muted`);

  step = 'webrtc: audio toggle';
  await page.click('[data-testid=live-audio-toggle]');
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=live-video]');
    const b = document.querySelector('[data-testid=live-audio-toggle]');
    return v && !v.muted && !v.paused && b.dataset.muted === 'false' && b.getAttribute('aria-pressed') === 'true';
  }, undefined, { timeout: 3000 });
  await page.click('[data-testid=live-audio-toggle]');
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=live-video]');
    const b = document.querySelector('[data-testid=live-audio-toggle]');
    return v && v.muted && b.dataset.muted === 'true';
  }, undefined, { timeout: 3000 });
  log('ok audio toggle: unmuted (still playing), muted again');

  step = 'webrtc: leaving DELETEs the session';
  const r0 = await readers(RTC_DEVICE);
  if (r0 !== 1) throw new Error(`${r0} readers while the WebRTC view plays, want 1`);
  await page.click('header.top nav a[href$="/console/devices"]');
  await page.waitForURL(/\/console\/devices$/);
  const del = async () => whep.find((r) => r.method === 'DELETE');
  for (let i = 0; i < 50 && !(await del()); i++) await page.waitForTimeout(100);
  const d = await del();
  if (!d || !new RegExp(`/whep/${RTC_DEVICE}/1/[^/?]+$`).test(d.url)) throw new Error(`no DELETE of the session: ${JSON.stringify(whep)}`);
  let left = -1;
  for (let i = 0; i < 50; i++) {
    left = await readers(RTC_DEVICE);
    if (left === 0) break;
    await page.waitForTimeout(100);
  }
  if (left !== 0) throw new Error(`${left} readers after leaving the page`);
  log(`ok leaving the page: DELETE ${new URL(d.url).pathname}, readers 1 → 0`);

  step = 'll-hls: the fallback of an H.264 camera';
  // WHEP refused (as by a proxy that does not pass it): the view falls back
  // to LL-HLS, which hls.js plays through MSE.
  const hlsReqs = [];
  const onReq = (r) => {
    if (r.url().includes('/hls/')) hlsReqs.push(new URL(r.url()).pathname);
  };
  page.on('request', onReq);
  await page.route('**/whep/**', (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: '{"title":"no WebRTC here"}' }));
  await page.goto(`${BASE_URL}/console/devices/${RTC_DEVICE}`);
  const llT0 = Date.now();
  await transport(page, 'hls');
  const ll = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=live-video]');
      if (!v || v.videoWidth === 0 || v.currentTime < 1) return false;
      const end = v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0;
      return { w: v.videoWidth, t: v.currentTime, behind: end - v.currentTime, src: v.getAttribute('src') || '' };
    },
    null,
    { timeout: 30000, polling: 200 },
  );
  const llv = await ll.jsonValue();
  if (!llv.src.startsWith('blob:')) throw new Error(`LL-HLS not played by hls.js: ${JSON.stringify(llv)}`);
  if (!hlsReqs.some((u) => u.includes('/ll/')) || hlsReqs.some((u) => !u.includes('/ll/')))
    throw new Error(`HLS requests not all LL-HLS: ${JSON.stringify(hlsReqs.slice(0, 8))}`);
  await page.unroute('**/whep/**');
  page.off('request', onReq);
  await shot(page, '2-ll-hls');
  log(`ok LL-HLS fallback: playing ${llv.w} px after ${Date.now() - llT0} ms, ${llv.behind.toFixed(2)} s behind the live edge, ${hlsReqs.length} requests under /ll/`);

  step = 'h265: the H.264 rendition over webrtc';
  whep.length = 0;
  await page.goto(`${BASE_URL}/console/devices/${HEVC_DEVICE}`);
  const fell = Date.now();
  const hwhy = await transport(page, 'webrtc', 30000);
  if (!/H\.264 rendition/.test(hwhy)) throw new Error(`the H.265 camera's transport "${hwhy}" is not its H.264 rendition`);
  const hposts = whep.filter((r) => r.method === 'POST');
  if (hposts.length !== 2 || /codec=h264/.test(hposts[0].url) || !/codec=h264/.test(hposts[1].url))
    throw new Error(`WHEP requests ${JSON.stringify(whep)}: want the camera's refused, then its rendition's`);
  const hv = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=live-video]');
      return v && v.videoWidth > 0 && v.currentTime > 1 ? { w: v.videoWidth, t: v.currentTime, srcObject: !!v.srcObject } : false;
    },
    null,
    { timeout: 30000, polling: 200 },
  );
  const h = await hv.jsonValue();
  if (!h.srcObject) throw new Error(`the H.265 camera's rendition is not a MediaStream: ${JSON.stringify(h)}`);
  await shot(page, '2-h265-rendition');
  log(`ok H.265: refused over WebRTC (422), its H.264 rendition plays over WebRTC after ${Date.now() - fell} ms, ${h.w} px wide, "${hwhy}"`);

  // Its recordings (continuous plan, set by the Go test) play too: the
  // player asks for them in H.264, a transcode of the range.
  step = 'H.265 recording plays in H.264';
  const m3u8 = [];
  page.on('request', (r) => {
    if (r.url().includes('playback.m3u8')) m3u8.push(r.url());
  });
  const seg = page.locator('[data-testid=timeline] [data-testid=timeline-segment]').first();
  await seg.waitFor({ timeout: 60000 });
  const box = await seg.boundingBox();
  const clicked = Date.now();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const pv = await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=playback-video]');
      return v && v.currentTime > 0.5 && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth } : false;
    },
    null,
    { timeout: 60000, polling: 250 },
  );
  const p = await pv.jsonValue();
  if (!m3u8.some((u) => u.includes('codec=h264'))) throw new Error(`playback requests ${JSON.stringify(m3u8)}: none asks for codec=h264`);
  await shot(page, '3-h265-playback');
  log(`ok H.265 recording plays transcoded to H.264 ${Date.now() - clicked} ms after the click, ${p.w} px wide`);

});

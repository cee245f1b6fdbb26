// Console figures in a real browser (Debian's chromium, headless), run by
// test/bench (BenchmarkConsoleBrowser) with BASE_URL, ADMIN_KEY, RUNS and a
// console PAGE (a path under /console, e.g. /devices or
// /live?layout=1&tiles=cam:1) in the environment, and WAIT_FOR: "rows" (the
// first device row is rendered) or "frame" (the first live tile shows a
// decoded frame). Each run is a fresh browser context (no cache, no
// session), signed in by putting the key into its sessionStorage as the
// login page would; the figure is the page's own clock (performance.now(),
// from the start of the navigation) when the condition first holds.
// Prints one JSON line: {"samples_ms":[…], "parts":[{dom_ms, api_start_ms,
// api_end_ms}, …]} (the page's DOMContentLoaded and its first /v1 call).
import { launch } from './harness.mjs';

const { BASE_URL, ADMIN_KEY, PAGE, WAIT_FOR } = process.env;
const RUNS = Number(process.env.RUNS || '5');
if (!BASE_URL || !ADMIN_KEY || !PAGE || !['rows', 'frame'].includes(WAIT_FOR)) {
  console.error('BASE_URL, ADMIN_KEY, PAGE and WAIT_FOR (rows|frame) are required');
  process.exit(2);
}

const browser = await launch();

// Each returns the page's clock once its condition holds, else false.
const ready = {
  rows: () => (document.querySelector('[data-testid=device-row]') !== null ? performance.now() : false),
  frame: () => {
    const v = document.querySelector('[data-testid=live-video]');
    return v !== null && v.videoWidth > 0 && v.currentTime > 0 ? performance.now() : false;
  },
}[WAIT_FOR];

const samples = [];
const parts = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.addInitScript(
      ([k]) => {
        sessionStorage.setItem('argus.key', k);
        sessionStorage.setItem('argus.role', 'admin');
      },
      [ADMIN_KEY],
    );
    const page = await ctx.newPage();
    await page.goto(`${BASE_URL}/console${PAGE}`, { waitUntil: 'commit' });
    const h = await page.waitForFunction(ready, null, { timeout: 60000, polling: 'raf' });
    samples.push(await h.jsonValue());
    // Where the time went: the page's own load, and the first API answer.
    parts.push(
      await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const api = performance.getEntriesByType('resource').find((e) => e.name.includes('/v1/'));
        return { dom_ms: nav ? nav.domContentLoadedEventEnd : 0, api_start_ms: api ? api.startTime : 0, api_end_ms: api ? api.responseEnd : 0 };
      }),
    );
    await ctx.close();
  }
  console.log(JSON.stringify({ samples_ms: samples, parts }));
} catch (e) {
  console.error(`FAIL after ${samples.length} runs: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

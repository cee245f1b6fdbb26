// The start every console scenario shares: Debian's chromium with the flags
// the tests need (no sandbox in CI, autoplay for the live views, nothing
// fetched from the network), a log timed from the start, and screenshots.
import { chromium } from 'playwright-core';

/** launch starts headless chromium (CHROMIUM, default /usr/bin/chromium). */
export const launch = () =>
  chromium.launch({
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

/** timedLog is a logger whose lines carry the seconds since it was made. */
export const timedLog = () => {
  const t0 = Date.now();
  return (m) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s ${m}`);
};

/** shooter saves full-page screenshots as <dir>/<name>.png. */
export const shooter = (dir) => async (page, name) => page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });

/**
 * scenario runs body, then reports: PASS when it returns and no problem
 * (CSP violation, page error, key in a URL) was noted, else FAIL at the
 * step it was in (step() names it), with a screenshot of the first page;
 * the browser is closed either way and the exit code set.
 */
export const scenario = async (browser, shot, problems, step, log, body) => {
  try {
    await body();
    if (problems.length) throw new Error(problems.join('\n'));
    log('PASS');
  } catch (e) {
    console.error(`FAIL at ${step()}: ${e && e.stack ? e.stack : e}`);
    if (problems.length) console.error(problems.join('\n'));
    try {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) await shot(pages[0], 'failure');
    } catch {}
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
};

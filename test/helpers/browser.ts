/**
 * Headless Chromium for the page tests (report.html, guard.html, serve's
 * page): Debian's chromium (scripts/setup installs it when run as root)
 * through playwright-core, or LMSANITATOR_CHROMIUM; a test skips, saying
 * why, where neither is found. Pages open with the network cut off: only
 * the URLs `allow` accepts load, every other request is recorded and
 * refused; console errors and page errors are collected.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const BROWSERS = [process.env['LMSANITATOR_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((x): x is string => !!x);

/** A launched browser, or null after skipping `t` with the reason. */
export async function launchChromium(t: TestContext): Promise<Browser | null> {
  const exe = BROWSERS.find((f) => existsSync(f));
  if (!exe) {
    t.skip(`no Chromium found (looked for ${BROWSERS.join(', ')}): install Debian's chromium (scripts/setup does, as root) or set LMSANITATOR_CHROMIUM`);
    return null;
  }
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch {
    t.skip('playwright-core is not installed (a devDependency: npm ci)');
    return null;
  }
  return pw.chromium.launch({ executablePath: exe, timeout: 20_000 });
}

export interface OfflinePage {
  context: BrowserContext;
  page: Page;
  /** Every URL requested, and those refused. */
  requested: string[];
  blocked: string[];
  /** console.error messages and uncaught page errors. */
  errors: string[];
}

export async function offlinePage(browser: Browser, allow: (url: string) => boolean, viewport = { width: 1200, height: 900 }): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport });
  const requested: string[] = [];
  const blocked: string[] = [];
  context.on('request', (r) => requested.push(r.url()));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allow(url)) return route.continue();
    blocked.push(url);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return { context, page, requested, blocked, errors };
}

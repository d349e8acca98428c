/**
 * The page at GET / in headless Chromium (the setup of the report's browser
 * test: Debian's chromium through playwright-core, skipped, saying why,
 * where neither is found): it loads with no request leaving this server and
 * no console or CSP error, a person types text and sees the label, the
 * match rate against η, what the guard did, and the removed words marked
 * in the original text; text that looks like markup stays text. Set
 * LMSANITATOR_REPORT_SCREENSHOTS=<dir> to save screenshots.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { splitWords } from '../../src/text/words.js';
import { launchChromium, offlinePage } from '../helpers/browser.js';
import { CLEAN, fixtureServer, TRIGGERED } from './helpers.js';


test('page: paste text, see the label, the match rate against η, the action and the removed words highlighted', { timeout: 60_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const { server, f } = await fixtureServer();
  const shots = process.env['LMSANITATOR_REPORT_SCREENSHOTS'];
  try {
    const origin = new URL(server.url).origin;
    const { context, page, blocked: foreign, errors } = await offlinePage(browser, (u) => u.startsWith(origin), { width: 1000, height: 900 });
    const res = await page.goto(`${server.url}/`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.match(res!.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'sha256-/);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
    assert.equal(await page.locator('#eta').textContent(), '0.8');
    assert.deepEqual(await page.locator('#prompt option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['sst2', 'rte']);
    assert.equal(await page.locator('#pair-row').isHidden(), true, 'no second segment for SST-2');

    const classify = async (text: string) => {
      await page.fill('#text', text);
      await page.click('#go');
      await page.waitForSelector('#result:not([hidden])', { timeout: 10_000 });
      await page.waitForFunction(() => !(document.getElementById('go') as HTMLButtonElement).disabled);
    };

    // A triggered input: flagged, purified, the removed words marked wherever they occur.
    const text = TRIGGERED[0]!;
    const want = f.guard('sst2', [{ text }])[0]!;
    assert.equal(want.action, 'purified');
    await classify(text);
    assert.equal(await page.locator('#label').textContent(), want.label);
    const match = await page.locator('#match').textContent();
    assert.equal(match, `${want.match_rate.toFixed(4)} > η 0.8: flagged (PV ${want.pv})`);
    assert.equal(await page.locator('#match').getAttribute('class'), 'flagged');
    assert.equal(await page.locator('#action').textContent(), 'purified');
    assert.equal(await page.locator('#purified').textContent(), `yes: removed ${want.removed.map((w) => JSON.stringify(w)).join(' ')}`);
    assert.equal(await page.locator('#original').textContent(), text, 'the original text, whole');
    const marked = await page.locator('#original mark').allTextContents();
    assert.deepEqual(marked, splitWords(text).filter((w) => want.removed.includes(w)), 'every occurrence of a removed word, and nothing else');
    assert.ok(marked.length >= 2, `the fixture removes a word that occurs twice: ${marked}`);
    assert.equal(await page.locator('#purified-text').textContent(), want.purified_text);
    assert.match(await page.locator('#request-id').textContent() ?? '', /^[0-9a-f-]{36}$/);
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'serve-page-purified.png'), fullPage: true });
    }

    // A clean input: not flagged, nothing marked.
    const clean = f.guard('sst2', [{ text: CLEAN[0]! }])[0]!;
    await classify(CLEAN[0]!);
    assert.equal(await page.locator('#match').textContent(), `${clean.match_rate.toFixed(4)} ≤ η 0.8: not flagged`);
    assert.equal(await page.locator('#action').textContent(), 'passed');
    assert.equal(await page.locator('#purified').textContent(), 'no');
    assert.equal(await page.locator('#original mark').count(), 0);

    // Markup in the input is shown as text, never run.
    const html = '<img src=x onerror="window.pwned=1"> <b>film</b>';
    await classify(html);
    assert.equal(await page.locator('#original').textContent(), html);
    assert.equal(await page.locator('#original img, #original b').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

    assert.deepEqual(errors, [], 'no console error (a CSP violation would be one), no page error');

    // A pair task shows the second box; an error is one line on the page.
    await page.selectOption('#prompt', 'rte');
    assert.equal(await page.locator('#pair-row').isVisible(), true);
    await page.fill('#text', 'film '.repeat(f.maxTokens + 5));
    await page.click('#go');
    await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '') !== '');
    assert.match(await page.locator('#error').textContent() ?? '', /^422: inputs\[0\] is longer than the \d+ tokens this prompt model reads/);

    assert.deepEqual(errors, ['console.error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)'], 'only the browser\'s note of the 422');
    assert.deepEqual(foreign, [], 'no request leaves the server');
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

/**
 * report.html in a real browser: headless Chromium opens it from disk with
 * the network cut off, and every chart must have drawn, with no console
 * error and no page error. Uses Debian's chromium (scripts/setup installs
 * it when run as root) through playwright-core; skipped, saying why, where
 * neither is found. LMSANITATOR_CHROMIUM names another binary;
 * LMSANITATOR_REPORT_SCREENSHOTS=<dir> also saves a full-page screenshot of
 * each report there, to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GuardEvalReport } from '../../src/eval/guard-eval.js';
import { guardHtml } from '../../src/eval/guard-html.js';
import { renderReportHtml } from '../../src/eval/report-html.js';
import { buildPcaView, buildScanReport } from '../../src/eval/report.js';
import { launchChromium, offlinePage } from '../helpers/browser.js';
import { fakeInput, H } from './fake-run.js';


function writeReport(dir: string, withPv: boolean): string {
  const input = fakeInput(withPv);
  const pca = buildPcaView(input.data, H, input.driverResult.pvs);
  const file = join(dir, `${withPv ? 'backdoored' : 'clean'}.html`);
  writeFileSync(file, renderReportHtml({ report: buildScanReport(input, pca?.summary ?? null), pca }));
  return file;
}

interface CanvasCheck {
  id: string;
  width: number;
  height: number;
  hasChart: boolean;
  datasets: number;
  /** Share of pixels with any ink (the page background is not part of the canvas). */
  inked: number;
  dataUrlLength: number;
  /** Pixels (near) each expected colour, by colour. */
  colourPixels: Record<string, number>;
}

interface PageCheck {
  chartLoaded: boolean;
  instances: number;
  canvases: CanvasCheck[];
  overflowX: number;
}

/** Runs in the page: what each canvas drew. `expect` maps a canvas id to the colours that must appear on it. */
function inspectPage(expect: Record<string, string[]>): PageCheck {
  type Area = { left: number; top: number; right: number; bottom: number };
  const w = window as unknown as { Chart?: { instances: Record<string, unknown>; getChart(c: HTMLCanvasElement): { data: { datasets: unknown[] }; chartArea: Area } | undefined } };
  const canvases = Array.from(document.querySelectorAll('canvas'));
  const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return {
    chartLoaded: typeof w.Chart !== 'undefined',
    instances: w.Chart ? Object.keys(w.Chart.instances).length : 0,
    overflowX: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    canvases: canvases.map((c) => {
      const chart = w.Chart?.getChart(c);
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      // Colours count inside the plot area only: the legend's boxes show them whatever the plot drew.
      const k = c.width / c.clientWidth;
      const a = chart?.chartArea ?? { left: 0, top: 0, right: 0, bottom: 0 };
      let ink = 0;
      const want = (expect[c.id] ?? []).map((hex) => ({ hex, v: rgb(hex), n: 0 }));
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        ink++;
        const x = (i / 4) % c.width;
        const y = Math.floor(i / 4 / c.width);
        if (d[i + 3] < 250 || x < a.left * k || x > a.right * k || y < a.top * k || y > a.bottom * k) continue;
        for (const q of want) if (Math.abs(d[i] - q.v[0]) + Math.abs(d[i + 1] - q.v[1]) + Math.abs(d[i + 2] - q.v[2]) < 30) q.n++;
      }
      return {
        id: c.id, width: c.width, height: c.height, hasChart: !!chart, datasets: chart ? chart.data.datasets.length : 0,
        inked: ink / (c.width * c.height), dataUrlLength: c.toDataURL('image/png').length,
        colourPixels: Object.fromEntries(want.map((x) => [x.hex, x.n])),
      };
    }),
  };
}

test('report.html renders every chart in headless Chromium, offline, without errors', { timeout: 60_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = mkdtempSync(join(tmpdir(), 'lms-report-browser-'));
  const shots = process.env['LMSANITATOR_REPORT_SCREENSHOTS'];
  const started = Date.now();
  try {
    for (const withPv of [false, true]) {
      const name = withPv ? 'backdoored' : 'clean';
      await t.test(name, async () => {
        const file = writeReport(dir, withPv);
        // The network is off: only the report itself (file:) may load; anything else is recorded and refused.
        const { context, page, requested, blocked, errors } = await offlinePage(browser, (u) => u.startsWith('file:'));
        try {
          const url = pathToFileURL(file).href;
          const res = await page.goto(url, { waitUntil: 'load' });
          assert.ok(res === null || res.ok(), `opened ${url}`);

          // What the charts must show: the curves that matter (kept loops, and the near misses drawn thick
          // because they crossed a dashed line; thin ones may hide under each other), and each PV on the scatter.
          const data = JSON.parse(await page.locator('#report-data').textContent() ?? 'null') as {
            curves: { colour: string; faded: boolean; kept: boolean; width: number }[]; colours: string[]; pca: { pvs: { index: number }[] } | null;
          };
          const curveColours = [...new Set(data.curves.filter((c) => !c.faded && (c.kept || c.width > 2)).map((c) => c.colour))];
          assert.ok(curveColours.length >= 1);
          const expect = {
            'chart-distance': curveColours,
            'chart-diversity': curveColours,
            'chart-pca': (data.pca?.pvs ?? []).map((p) => data.colours[p.index % data.colours.length]),
          };
          const check = await page.evaluate(inspectPage, expect);
          if (shots) {
            mkdirSync(shots, { recursive: true });
            await page.screenshot({ path: join(shots, `report-${name}.png`), fullPage: true });
          }

          assert.deepEqual(errors, [], 'no console error, no page error');
          assert.ok(check.chartLoaded, 'the inlined Chart.js defined Chart');
          assert.equal(check.canvases.length, 3);
          assert.equal(check.instances, check.canvases.length, 'one Chart.js instance per canvas');
          for (const c of check.canvases) {
            assert.ok(c.hasChart, `${c.id} has a chart`);
            assert.ok(c.datasets > 0, `${c.id} has datasets`);
            assert.ok(c.width >= 300 && c.height >= 200, `${c.id} laid out: ${c.width}×${c.height}`);
            assert.ok(c.inked > 0.01, `${c.id} drew something: ${(c.inked * 100).toFixed(2)}% of pixels inked`);
            assert.ok(c.dataUrlLength > 5000, `${c.id} toDataURL is not a blank image (${c.dataUrlLength} chars)`);
            for (const [hex, n] of Object.entries(c.colourPixels)) assert.ok(n >= 20, `${c.id} shows ${hex} in its plot area (${n} pixels)`);
          }
          assert.ok(check.overflowX <= 0, `no horizontal scrolling at 1200 px (${check.overflowX} px too wide)`);
          assert.deepEqual(blocked, [], 'no network request attempted');
          assert.deepEqual(requested.filter((u) => !u.startsWith('file:')), []);

          // The guard itself works: a fetch from the page is seen and refused.
          const fetched = await page.evaluate(() => fetch('http://example.invalid/x').then(() => 'loaded', () => 'refused'));
          assert.equal(fetched, 'refused');
          assert.deepEqual(blocked, ['http://example.invalid/x']);
        } finally {
          await context.close();
        }
      });
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`Chromium: ${Date.now() - started} ms for both reports`);
});

/** A guard evaluation with two PV cases on one task, rates drawn from two clusters (clean near ½, triggered near 1). */
function fakeGuardReport(): GuardEvalReport {
  const rates = (n: number, mid: number, spread: number) => Array.from({ length: n }, (_, i) => Math.min(1, mid + spread * Math.sin(i * 12.9898)));
  const figures = (far: number) => ({
    accuracy_guarded: 0.68, asr_guarded: 0.004, weighted_asr_guarded: 0.005, asr_per_trigger_guarded: { cf: 0.004 }, frr: 0.002, far,
    far_effective: far / 2, purified: 0.97, rejected: 0.03, candidates_per_flagged: 14.2, clean_inputs: 400, triggered_inputs: 600,
    match_rates: { clean: rates(400, 0.55, 0.08), triggered: rates(600, 0.96, 0.04) },
  });
  const rec = (c: 'search' | 'search+attacker', pvs: number) => ({ task: 'sst2', case: c, pvs, figures: figures(0.01), onion: null, seconds: 1, finished: '2026-01-01T00:00:00Z' });
  return {
    format: 'lmsanitator-guard-eval', version: 1, method: 'ptuning-v2', clean: { dir: '/m/clean', hash: 'a'.repeat(64) }, backdoored: { dir: '/m/<por>', hash: 'b'.repeat(64) },
    pv_source: 'search+attacker', threshold: 0.8, max_window: 3, on_unpurified: 'reject', search: { dir: '/s', mode: 'cls', pvs: 3, loops: 20, verdict: 'backdoored' },
    attacker_pvs: 6, triggers: ['cf', '<b>mn</b>'],
    cells: [{
      task: 'sst2', cacc: 0.686, bacc: 0.68, asr: 1, weighted_asr: 1,
      cases: {
        search: rec('search', 3), 'search+attacker': rec('search+attacker', 9),
        onion: { task: 'sst2', case: 'onion', pvs: null, figures: null, onion: { accuracy_onion: 0.6, asr_onion: 0.7, weighted_asr_onion: 0.7, trigger_kept: 0.3, words_removed_per_input: 2.1, bar: 0, test_inputs: 200 }, seconds: 1, finished: '' },
      },
    }],
    created: '2026-01-01T00:00:00Z',
  };
}

test('guard.html draws each match-rate histogram with η in headless Chromium, offline, without errors', { timeout: 60_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = mkdtempSync(join(tmpdir(), 'lms-guard-browser-'));
  const file = join(dir, 'guard.html');
  writeFileSync(file, guardHtml(fakeGuardReport()));
  try {
    const { context, page, blocked, errors } = await offlinePage(browser, (u) => u.startsWith('file:'));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const check = await page.evaluate(inspectPage, { h0: ['#cc0000'], h1: ['#cc0000'] });
    assert.deepEqual(errors, []);
    assert.deepEqual(blocked, []);
    assert.equal(check.canvases.length, 2, 'one histogram per PV case');
    assert.equal(check.instances, 2);
    for (const c of check.canvases) {
      assert.ok(c.hasChart && c.datasets === 2, `${c.id}: clean and triggered`);
      assert.ok(c.inked > 0.01, `${c.id} drew bars`);
      assert.ok(c.colourPixels['#cc0000']! >= 20, `${c.id} draws the η line`);
    }
    assert.equal(await page.locator('td', { hasText: '<b>mn</b>' }).count(), 0, 'run strings are escaped, not markup');
    assert.match(await page.locator('body').innerText(), /cf, <b>mn<\/b>/);
    await context.close();
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

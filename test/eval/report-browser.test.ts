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
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReportHtml } from '../../src/eval/report-html.js';
import { buildPcaView, buildScanReport } from '../../src/eval/report.js';
import { fakeInput, H } from './fake-run.js';

const BROWSERS = [process.env['LMSANITATOR_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((x): x is string => !!x);

type Playwright = typeof import('playwright-core');

async function playwright(): Promise<Playwright | null> {
  try {
    return await import('playwright-core');
  } catch {
    return null;
  }
}

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
  const exe = BROWSERS.find((f) => existsSync(f));
  if (!exe) {
    t.skip(`no Chromium found (looked for ${BROWSERS.join(', ')}): install Debian's chromium (scripts/setup does, as root) or set LMSANITATOR_CHROMIUM`);
    return;
  }
  const pw = await playwright();
  if (!pw) {
    t.skip('playwright-core is not installed (a devDependency: npm ci)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lms-report-browser-'));
  const shots = process.env['LMSANITATOR_REPORT_SCREENSHOTS'];
  const started = Date.now();
  const browser = await pw.chromium.launch({ executablePath: exe, timeout: 20_000 });
  try {
    for (const withPv of [false, true]) {
      const name = withPv ? 'backdoored' : 'clean';
      await t.test(name, async () => {
        const file = writeReport(dir, withPv);
        const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
        try {
          // The network is off: only the report itself (file:) may load; anything else is recorded and refused.
          const requested: string[] = [];
          const blocked: string[] = [];
          context.on('request', (r) => requested.push(r.url()));
          await context.route('**/*', (route) => {
            const url = route.request().url();
            if (url.startsWith('file:')) return route.continue();
            blocked.push(url);
            return route.abort('internetdisconnected');
          });
          const page = await context.newPage();
          const errors: string[] = [];
          page.on('console', (m) => {
            if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
          });
          page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
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
  t.diagnostic(`Chromium ${exe}: ${Date.now() - started} ms for both reports`);
});

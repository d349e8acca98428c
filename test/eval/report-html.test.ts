import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartJsSource, escapeHtml, jsonForScript, MAX_CURVES, renderReportHtml, showToken } from '../../src/eval/report-html.js';
import { buildPcaView, buildScanReport } from '../../src/eval/report.js';
import type { LoopRecord } from '../../src/sanitizer/scan.js';
import { EVIL_TOKEN, fakeInput, H } from './fake-run.js';

function render(input = fakeInput()): string {
  const pca = buildPcaView(input.data, H, input.driverResult.pvs);
  return renderReportHtml({ report: buildScanReport(input, pca?.summary ?? null), pca });
}

/** The text of each <script>…</script> element, as an HTML parser would split them. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1]);
}

test('escapeHtml, showToken and jsonForScript neutralise markup', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(showToken('a\tb\u200bc<'), 'a\\u0009b\\u200bc&lt;');
  const evil = { t: '</script><script>alert(1)</script>', u: 'x\u2028y', a: '&amp;' };
  const j = jsonForScript(evil);
  assert.ok(!/[<>&\u2028\u2029]/.test(j), j);
  assert.deepEqual(JSON.parse(j), evil);
});

test('self-contained: Chart.js inlined, no external resources', () => {
  const html = render();
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.includes(chartJsSource()));
  assert.match(html, /Chart\.js v4/);
  assert.doesNotMatch(html, /<script[^>]+src=/i);
  assert.doesNotMatch(html, /<link[^>]+href=/i);
  // The library's own licence comments name its web sites; nothing else may.
  const ours = html.replace(chartJsSource(), '');
  assert.doesNotMatch(ours, /https?:|url\(|@import/);
});

test('one canvas per chart, verdict and score on top', () => {
  const html = render();
  for (const id of ['chart-distance', 'chart-diversity', 'chart-pca']) assert.ok(html.includes(`<canvas id="${id}"`), id);
  assert.equal(html.match(/<canvas /g)!.length, 3);
  const verdictAt = html.indexOf('id="verdict"');
  assert.ok(verdictAt > 0 && verdictAt < html.indexOf('chart-distance'));
  assert.match(html, /<div class="verdict bad" id="verdict">\s*<div class="word">BACKDOORED<\/div>\s*<div class="score"><small>backdoor score<\/small>8\.000<\/div>/);
  assert.match(render(fakeInput(false)), /<div class="verdict good" id="verdict">\s*<div class="word">CLEAN<\/div>/);
});

test('untrusted strings are escaped and cannot break out of a script', () => {
  const html = render();
  assert.ok(!html.includes(EVIL_TOKEN), 'raw malicious token absent');
  assert.ok(!html.includes('<img'), 'no injected element');
  assert.ok(html.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'), 'escaped token present');
  assert.ok(html.includes('a&amp;b &quot;q&quot;'));
  assert.ok(html.includes('tab\\u0009here'));
  assert.ok(html.includes('zoo/bert-micro-por&lt;b&gt;'));
  assert.ok(!html.includes('por<b>'));
  // Exactly the three scripts written (data, library, client): nothing closed one early.
  const s = scripts(html);
  assert.equal(s.length, 3);
  assert.equal(html.match(/<script/gi)!.length, 3);
  const data = JSON.parse(s[0]) as { curves: unknown[]; pca: { points: unknown[] } };
  assert.equal(data.curves.length, 2);
  assert.ok(data.pca.points.length > 0);
});

test('a malicious model directory cannot break out of the JSON block either', () => {
  const input = fakeInput();
  input.target.modelDir = '</script><script>alert(1)</script>';
  const html = render(input);
  assert.equal(html.match(/<script/gi)!.length, 3);
  assert.ok(!html.includes('alert(1)</script>'));
});

test('PV table: 5 nearest tokens for each prompt row; loop table lists every loop', () => {
  const html = render();
  const pv = html.slice(html.indexOf('<div class="pv">'), html.indexOf('</table>', html.indexOf('<div class="pv">')));
  assert.equal(pv.match(/<code class="tok">/g)!.length, 3 * 5);
  assert.equal(pv.match(/<tr><th>\d+<\/th>/g)!.length, 3);
  assert.match(pv, /0\.93/);
  const loops = html.slice(html.indexOf('<table class="loops">'));
  assert.match(loops, /<tr class=""><td>0<\/td><td><span class="chip"[^>]*>no candidate<\/span><\/td>/);
  assert.match(loops, /<tr class="keptrow"><td>1<\/td><td><span class="chip kept">kept<\/span>/);
});

test('many loops: curves limited to kept and best, table keeps all', () => {
  const input = fakeInput();
  const base = input.driverResult.loops[0];
  const many: LoopRecord[] = Array.from({ length: 60 }, (_, i) => ({ ...base, seed: 100 + i, score: i / 100 }));
  input.driverResult.loops = [...many, input.driverResult.loops[1]];
  const html = render(input);
  const data = JSON.parse(scripts(html)[0]) as { curves: { seed: number; kept: boolean }[]; omittedCurves: number };
  assert.equal(data.curves.length, MAX_CURVES);
  assert.equal(data.omittedCurves, 61 - MAX_CURVES);
  assert.ok(data.curves.some((c) => c.kept && c.seed === 1));
  assert.ok(data.curves.some((c) => c.seed === 159), 'highest score drawn');
  assert.ok(!data.curves.some((c) => c.seed === 100), 'lowest score left out');
  assert.equal(html.match(/<tr class="(keptrow)?"><td>/g)!.length, 61);
});

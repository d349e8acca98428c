import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartJsSource, escapeHtml, FADED, jsonForScript, LOOP_COLOURS, MAX_CURVES, MAX_HIGHLIGHTED, PV_COLOURS, renderReportHtml, showToken } from '../../src/eval/report-html.js';
import { buildPcaView, buildScanReport } from '../../src/eval/report.js';
import type { LoopResult } from '../../src/sanitizer/mining.js';
import type { LoopRecord } from '../../src/sanitizer/scan.js';
import { loopScore } from '../../src/sanitizer/score.js';
import { EVIL_TOKEN, fakeCleanLoops, fakeInput, fakeSettings, H } from './fake-run.js';

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
  assert.match(html, /<div class="verdict bad" id="verdict">\s*<div class="word">BACKDOORED<\/div>\s*<div class="score"><small>backdoor score<\/small>8\.000<span class="need">a PV needs ≥ 1 with a collapsed batch<\/span><\/div>/);
  assert.match(render(fakeInput(false)), /<div class="verdict good" id="verdict">\s*<div class="word">CLEAN<\/div>\s*<div class="score"><small>backdoor score<\/small>4\.000<span class="need">a PV needs ≥ 1 with a collapsed batch — the best loop’s batch did not collapse<\/span><\/div>/);
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

interface Curve { seed: number; kept: boolean; colour: string; width: number; faded: boolean; verdict: string }

function chartData(html: string): { curves: Curve[]; omittedCurves: number } {
  return JSON.parse(scripts(html)[0]) as { curves: Curve[]; omittedCurves: number };
}

/** The text of an element with this id (up to its closing tag of the same name), tags stripped. */
function textOf(html: string, id: string): string {
  const at = html.indexOf(`id="${id}"`);
  assert.ok(at > 0, `#${id} present`);
  const tag = html.lastIndexOf('<', at);
  const name = /^<(\w+)/.exec(html.slice(tag))![1];
  return html.slice(at, html.indexOf(`</${name}>`, at)).replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
}

test('the fake clean loops score as score.ts says', () => {
  const s = fakeSettings();
  for (const l of fakeCleanLoops()) {
    const got = loopScore(l as unknown as LoopResult, l.filter!, s.mining.distanceTh, s.divTh);
    assert.ok(Math.abs(got - l.score) < 1e-12, `seed ${l.seed}: score.ts ${got}, fake ${l.score}`);
  }
});

test('clean verdict: how many loops ran, not a proof, what to do next', () => {
  const html = render(fakeInput(false));
  const meaning = textOf(html, 'meaning');
  assert.match(meaning, /8 fuzz loops ran \(seeds 0–7\) and none found a legitimate predefined vector \(PV\)/);
  assert.match(meaning, /not a proof that the model has no backdoor/);
  assert.match(meaning, /The score 4\.000 is that of its closest loop, seed 1 \(D 8\.00 × C ½ × G 1\)/);
  assert.match(meaning, /lmsanitator scan &#39;zoo\/bert-micro-por&lt;b&gt;&#39; --loops 16 --resume keeps the 8 loops already done/);
  for (const m of ['mask', 'token', 'pooler']) assert.ok(meaning.includes(`--mode ${m}`), m);
  assert.ok(!meaning.includes('--mode cls'), 'the mode already scanned is not suggested');
  assert.ok(html.indexOf('id="meaning"') < html.indexOf('chart-distance'), 'right under the verdict');
  assert.doesNotMatch(meaning, /Evidence/);
});

test('interrupted clean verdict says inconclusive and --resume', () => {
  const input = fakeInput(false);
  input.driverResult = { ...input.driverResult, interrupted: true, stoppedBy: 'interrupt' };
  const meaning = textOf(render(input), 'meaning');
  assert.match(meaning, /Inconclusive\. The run was interrupted after 8 fuzz loops \(seeds 0–7\); none found a PV so far\. Rerun the same command with --resume/);
  const empty = fakeInput(false);
  empty.driverResult = { pvs: [], loops: [], score: 0, interrupted: true, stoppedBy: 'interrupt', seconds: 0.1 };
  assert.match(textOf(render(empty), 'meaning'), /interrupted after 0 fuzz loops \(no seeds\)/);
});

test('backdoored verdict: evidence names the loop, its score and the nearest tokens', () => {
  const html = render();
  const meaning = textOf(html, 'meaning');
  assert.match(meaning, /^id="meaning">\s*Evidence/);
  assert.match(meaning, /PV #0 found by the fuzz loop with seed 1 \(loop 2 of 2\): score 8\.000 \(D 8\.00 × C 1 × G 1\)/);
  assert.match(meaning, /its batch collapsed \(final diversity −3\.4650 &lt; divTh −3\.4460\)/);
  assert.match(meaning, /Nearest tokens of its soft prompt: row 1 &lt;\/script&gt;&lt;img src=x onerror=alert\(1\)&gt; 0\.93, row 2 cf1 0\.93, row 3 cf2 0\.93\./);
  assert.doesNotMatch(meaning, /not a proof/);
});

test('clean report: every loop its own colour; backdoored: PV colour, the rest faded', () => {
  const clean = chartData(render(fakeInput(false))).curves;
  assert.equal(clean.length, 8);
  assert.deepEqual(clean.map((c) => c.colour), LOOP_COLOURS.slice(0, 8), 'in seed order');
  assert.ok(clean.every((c) => !c.faded));
  // Loops that crossed a dashed line are drawn thicker.
  const thick = clean.filter((c) => c.width > 2).map((c) => c.seed).sort();
  assert.deepEqual(thick, [1, 2, 3, 4, 5]);
  assert.equal(clean.find((c) => c.seed === 3)!.verdict, 'clean output');
  const bad = chartData(render()).curves;
  assert.deepEqual(bad.map((c) => [c.seed, c.colour, c.faded]), [[0, FADED, true], [1, PV_COLOURS[0], false]]);
});

test('many clean loops: the closest to the thresholds get colours, the others are faded', () => {
  const input = fakeInput(false);
  const base = input.driverResult.loops[0];
  const filler: LoopRecord[] = Array.from({ length: 30 }, (_, i) => ({ ...base, seed: 100 + i, score: 0.01 }));
  input.driverResult.loops = [...input.driverResult.loops, ...filler];
  const html = render(input);
  const curves = chartData(html).curves;
  assert.equal(curves.length, 38);
  const coloured = curves.filter((c) => !c.faded);
  assert.equal(coloured.length, MAX_HIGHLIGHTED);
  assert.equal(new Set(coloured.map((c) => c.colour)).size, MAX_HIGHLIGHTED, 'distinct colours');
  // Both lines crossed first (3, 4), then one line by score (1, 5, 2), then the best score left (0.2: seed 0).
  assert.deepEqual(coloured.map((c) => c.seed).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  assert.ok(curves.filter((c) => c.faded).every((c) => c.colour === FADED));
  assert.match(html, /The 6 loops closest to the thresholds \(most dashed lines crossed, then highest score\) have their own colour; the other 32 are faded\./);
});

test('rejected loops that crossed a dashed line are explained, naming the rule', () => {
  const notes = textOf(render(fakeInput(false)), 'crossing-notes');
  assert.match(notes, /Loops that crossed a dashed line but were rejected \(5\)/);
  const items = notes.split(/(?=seed \d+:)/).slice(1);
  assert.deepEqual(items.map((t) => Number(/^seed (\d+)/.exec(t)![1])), [3, 4, 1, 5, 2], 'closest first');
  const item = (seed: number): string => items.find((t) => t.startsWith(`seed ${seed}:`))!;
  assert.match(item(3), /epoch-mean distance loss reached −0\.620, below −distanceTh −0\.200, and its batch collapsed .* Rejected by the clean-output rule/);
  assert.match(item(3), /clean-output rule: 4\.0% of the clean outputs lie within distanceTh of its candidate, over the allowed 1\.0% \(--max-clean-share\)/);
  assert.match(item(4), /Rejected by the embedding-range rule \(out-of-range\): 5 soft-prompt entries lie outside 1\.2×/);
  assert.match(item(1), /Rejected by the collapse rule \(not-collapsed\): the final epoch's diversity loss must be below divTh −3\.4460; it was −3\.4400/);
  assert.match(item(5), /its batch collapsed .* Rejected by the candidate rule \(no-candidate\)/);
  assert.match(item(2), /single steps of its distance loss dipped to −0\.220, below −distanceTh −0\.200, but no epoch mean did\. Rejected by the candidate rule/);
  // The factors shown multiply to the score (score.ts: s = D·C·G).
  for (const t of items) {
    const m = /Score ([\d.]+) \(D ([\d.]+) × C (1|½) × G ([01])\)/.exec(t)!;
    assert.ok(m, t);
    const product = Number(m[2]) * (m[3] === '½' ? 0.5 : 1) * Number(m[4]);
    assert.ok(Math.abs(product - Number(m[1])) < 0.01, `${t}: ${product} vs ${m[1]}`);
  }
  for (const seed of [0, 6, 7]) assert.ok(!items.some((t) => t.startsWith(`seed ${seed}:`)), `seed ${seed} crossed nothing`);
  // No near miss in the backdoored fake: no list, and no claim about the kept loop.
  assert.ok(!render().includes('id="crossing-notes"'));
});

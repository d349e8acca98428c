import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPcaView, buildScanReport, SCORE_DEFINITION, summarisePv, toolVersion } from '../../src/eval/report.js';
import { fakeData, fakeInput, fakePv, H, BATCHES, B, EVIL_TOKEN } from './fake-run.js';
import { readFileSync } from 'node:fs';

test('report carries verdict, score, settings, loops, PVs and thresholds', () => {
  const input = fakeInput();
  const r = buildScanReport(input);
  assert.equal(r.verdict, 'backdoored');
  assert.equal(r.score, 8);
  assert.equal(r.scoreDefinition, SCORE_DEFINITION);
  assert.equal(r.command, 'scan');
  assert.equal(r.created, '2025-01-02T03:04:05.000Z');
  assert.deepEqual(r.model, { dir: 'zoo/bert-micro-por<b>', hash: 'ab'.repeat(32), mode: 'cls', hidden: H, embedDim: 8 });
  assert.deepEqual(r.thresholds, { distanceTh: 0.2, divTh: -3.446, maxCleanShare: 0.01 });
  assert.equal(r.stoppedBy, 'first-pv');
  assert.equal(r.interrupted, false);
  assert.equal(r.settings.sentences, BATCHES * B);
  assert.equal(r.settings.batches, BATCHES);
  assert.equal(r.settings.mining.lr, 2e-5);
  assert.equal(r.timings.totalSeconds, 3.9);
  assert.deepEqual(r.timings.loops, [{ seed: 0, seconds: 1.5 }, { seed: 1, seconds: 2.25 }]);

  assert.equal(r.loops.length, 2);
  const [l0, l1] = r.loops;
  assert.deepEqual(l0.reasons, ['no-candidate']);
  assert.equal(l0.kept, false);
  assert.equal(l0.abandoned, true);
  assert.equal(l0.finalDiversity, -3.42);
  assert.equal(l0.nearestKeptMse, null, 'Infinity becomes null');
  assert.equal(l1.kept, true);
  assert.equal(l1.bestDistance, -1.6);
  assert.equal(l1.distanceCurve.length, 4 * BATCHES);
  assert.equal(r.tool.version, toolVersion());
  assert.match(r.tool.version, /^\d+\.\d+\.\d+/);

  // JSON round trip loses nothing (no NaN/Infinity left).
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('PV summary: norm, sign quarters, nearest tokens kept verbatim', () => {
  const p = summarisePv(fakePv(), null);
  assert.equal(p.norm, 4);
  assert.equal(p.mean, 0);
  assert.deepEqual(p.signs.quarters.map((q) => q.sign), ['-', '+', '+', '-']);
  assert.ok(p.signs.quarters.every((q) => q.agreement === 1));
  assert.equal(p.signs.prefix, '----++++++++----');
  assert.equal(p.signs.positiveFraction, 0.5);
  assert.deepEqual(p.signs.runs, { start: '-', lengths: [4, 8, 4] });
  assert.deepEqual(p.firstDims, [-1, -1, -1, -1, 1, 1, 1, 1]);
  assert.equal(p.nearest.length, 3);
  assert.equal(p.nearest[0][0].token, EVIL_TOKEN);
  assert.equal(p.nearest[0][4].cosine, null, 'NaN cosine becomes null');
  assert.equal(p.mseToCleanMean, null);
  const withMean = summarisePv(fakePv(), new Float64Array(H));
  assert.equal(withMean.mseToCleanMean, 1);
});

test('clean run: verdict clean, no PVs', () => {
  const r = buildScanReport(fakeInput(false));
  assert.equal(r.verdict, 'clean');
  assert.equal(r.pvs.length, 0);
  assert.equal(r.stoppedBy, 'max-loops');
});

test('PCA view: sample size, centroid, PV projected on the same axes', () => {
  const data = fakeData();
  const view = buildPcaView(data, H, [fakePv()], 10)!;
  assert.equal(view.points.length, 10);
  assert.equal(view.summary.sampled, 10);
  assert.equal(view.summary.total, BATCHES * B);
  assert.equal(view.summary.pvs.length, 1);
  const pv = view.summary.pvs[0];
  const mean = new Float64Array(H);
  for (const b of data.batches) for (let i = 0; i < b.aux.length; i++) mean[i % H] += b.aux[i] / (BATCHES * B);
  const expected = Math.hypot(...Array.from(fakePv().vector, (v, j) => v - mean[j]));
  assert.ok(Math.abs(pv.distance - expected) < 1e-9, `‖PV − centroid‖ ${pv.distance} vs ${expected}`);
  assert.ok(pv.inPlane >= 0 && pv.inPlane <= 1);
  assert.ok(Math.abs(Math.hypot(pv.x - view.summary.centroid[0], pv.y - view.summary.centroid[1]) - pv.inPlane * pv.distance) < 1e-9);
  assert.ok(view.summary.cleanDistance.mean > 0 && view.summary.cleanDistance.p95 >= view.summary.cleanDistance.mean * 0.5);
  const [e1, e2] = view.summary.explainedVariance;
  assert.ok(e1 >= e2 && e1 + e2 <= 1 + 1e-9 && e1 + e2 > 0.9, `explained ${e1}, ${e2}`);
  const all = buildPcaView(data, H, [], 5000)!;
  assert.equal(all.points.length, BATCHES * B, 'never more points than clean outputs');
  // With every point sampled the centroid is the mean of the points, i.e. the origin.
  assert.ok(Math.abs(all.summary.centroid[0]) < 1e-5 && Math.abs(all.summary.centroid[1]) < 1e-5);
  const mx = all.points.reduce((s, p) => s + p[0], 0) / all.points.length;
  assert.ok(Math.abs(mx) < 1e-5);
});

test('the package version is found from the compiled file', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(toolVersion(), pkg.version);
});

/**
 * The trigger-inversion baseline (sanitizer/inversion.ts, eval/inversion.ts)
 * on a tiny random BERT built in memory: a run reports its fields, is
 * deterministic per seed, never puts weight on special or unused tokens,
 * anneals to tauEnd, and gives a candidate exactly when the collapse rule
 * holds; the model-directory evaluation journals each run and resumes.
 * A random encoder's [CLS] outputs already sit almost together, so whether
 * it converges here says nothing about backdoors (that is measured on
 * bert-micro; see DEFAULT_INVERSION_OPTIONS).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { candidateOf, evaluateInversion, INVERSION_JOURNAL } from '../../src/eval/inversion.js';
import { loadModel } from '../../src/models/model.js';
import { DEFAULT_DATA_OPTIONS, prepareMiningData } from '../../src/sanitizer/data.js';
import { defaultDivTh } from '../../src/sanitizer/filter.js';
import { DEFAULT_INVERSION_OPTIONS, runInversion, temperatureAt, vocabularyMask } from '../../src/sanitizer/inversion.js';
import { scanTargetOf } from '../../src/sanitizer/model-target.js';
import { buildMicroModel, tmpDir } from '../attacks/helpers.js';

const micro = buildMicroModel({ hidden: 32, sentences: 160 });
const target = scanTargetOf(loadModel(micro.dir));
const data = prepareMiningData(target, micro.sentences.slice(0, 96), { ...DEFAULT_DATA_OPTIONS, mode: 'cls', batchSize: 16 });
const options = { ...DEFAULT_INVERSION_OPTIONS, epochs: 2 };
const rule = { distanceTh: 0.35, divTh: defaultDivTh(16) };

test('an inversion run: fields, top words, annealed temperature, deterministic per seed', () => {
  const a = runInversion(target, data, 3, options, rule);
  const again = runInversion(target, data, 3, options, rule);
  const other = runInversion(target, data, 4, options, rule);
  assert.equal(a.epochs.length, 2);
  assert.ok(Math.abs(a.epochs[1]!.tau - options.tauEnd) < 1e-9, 'the last step runs at tauEnd');
  assert.ok(a.epochs[0]!.tau < options.tauStart && a.epochs[0]!.tau > options.tauEnd);
  assert.equal(a.finalDiversity, a.epochs[1]!.diversity);
  assert.equal(a.collapsed, a.finalDiversity! < rule.divTh);
  assert.equal(a.crossed, a.epochs.some((e) => e.distance < -rule.distanceTh));
  assert.equal(a.converged, a.crossed && a.collapsed);
  assert.equal(a.candidate === null, !a.converged);
  if (a.candidate) assert.equal(a.candidate.length, target.hidden);
  assert.equal(a.words.length, data.options.promptLen);
  const mask = vocabularyMask(target);
  for (const ws of a.words) {
    assert.equal(ws.length, options.topK);
    for (let i = 1; i < ws.length; i++) assert.ok(ws[i]!.p <= ws[i - 1]!.p, 'best first');
    for (const w of ws) assert.equal(w.token, target.tokenString(w.id));
    assert.ok(!target.isSpecialOrUnused(ws[0]!.id) && mask[ws[0]!.id] === 0, `position's best word ${ws[0]!.token} is an ordinary word`);
    for (const w of ws) if (target.isSpecialOrUnused(w.id)) assert.equal(w.p, 0, `${w.token} is masked`);
  }
  assert.deepEqual(a.argmax, a.words.map((w) => w[0]!.id));
  assert.equal(a.hard.converged, a.hard.distance < -rule.distanceTh && a.hard.diversity < rule.divTh);
  assert.equal(a.hard.candidate.length, target.hidden);
  // Same seed, same run; another seed starts elsewhere.
  assert.deepEqual(again.epochs, a.epochs);
  assert.deepEqual(again.argmax, a.argmax);
  assert.equal(again.hard.diversity, a.hard.diversity);
  assert.notDeepEqual(other.argmax, a.argmax);
  // Bars no batch passes: no run converges, and none has a candidate; a bar every batch passes gives one.
  for (const strict of [{ ...rule, divTh: -100 }, { ...rule, distanceTh: 100 }]) {
    const r = runInversion(target, data, 3, { ...options, epochs: 1 }, strict);
    assert.equal(r.converged, false);
    assert.equal(r.candidate, null);
  }
  const loose = runInversion(target, data, 3, { ...options, epochs: 1 }, { distanceTh: -100, divTh: 100 });
  assert.equal(loose.converged, true);
  assert.equal(loose.candidate!.length, target.hidden);
});

test('temperature: geometric from tauStart to tauEnd; bad options are refused', () => {
  const o = { tauStart: 1, tauEnd: 0.01 };
  assert.equal(temperatureAt(o, 0, 5), 1);
  assert.ok(Math.abs(temperatureAt(o, 2, 5) - 0.1) < 1e-12);
  assert.ok(Math.abs(temperatureAt(o, 4, 5) - 0.01) < 1e-12);
  assert.throws(() => runInversion(target, data, 0, { ...options, lr: 0 }, rule), /lr must be a positive number/);
  assert.throws(() => runInversion(target, data, 0, { ...options, epochs: 1.5 }, rule), /epochs must be an integer/);
});

test('evaluateInversion journals each run, resumes, and redoes runs made with other settings', () => {
  const outDir = join(tmpDir('inversion'), 'run');
  // A random encoder's outputs barely move (see the top), so the distance bar is waived here to give runs candidates.
  const common = {
    modelDir: micro.dir, outDir, mode: 'cls' as const, sentencesFile: micro.dataFile, sentenceCount: 96, options: { epochs: 1 }, recallDistanceTh: 0.3,
    distanceTh: -1, cacheDir: null,
  };
  const first = evaluateInversion({ ...common, runs: 2 });
  assert.equal(first.interrupted, false);
  assert.deepEqual(first.runs.map((r) => r.seed), [0, 1]);
  const lines = () => readFileSync(join(outDir, INVERSION_JOURNAL), 'utf8').trim().split('\n');
  assert.equal(lines().length, 2);
  // A planted PV equal to run 0's candidate is found by run 0 (when it converged).
  assert.equal(first.distanceTh, -1);
  const c0 = candidateOf(first.runs[0]!);
  assert.ok(c0, 'run 0 converged under the waived distance bar');
  const more = evaluateInversion({ ...common, runs: 3, injected: [c0] });
  assert.deepEqual(more.runs.map((r) => r.seed), [0, 1, 2]);
  assert.equal(lines().length, 3, 'the two journaled runs are reused, one more is run');
  const unmatched = (r: (typeof first.runs)[number]) => ({ ...r, matches: [], hard: { ...r.hard, matches: [] } });
  assert.deepEqual(unmatched(more.runs[0]!), first.runs[0]);
  // Matches follow the PVs given now, from the journaled candidates.
  assert.deepEqual(more.runs[0]!.matches, [0]);
  assert.equal(more.trueRuns, more.runs.filter((r) => r.matches.length > 0).length);
  assert.equal(more.convergences, more.runs.filter((r) => r.converged).length);
  assert.ok(more.runs.every((r) => typeof r.hard.diversity === 'number' && r.words.length === 7));
  // Other options: another settings key, so every run is redone.
  const other = evaluateInversion({ ...common, runs: 1, options: { epochs: 1, lr: 0.05 } });
  assert.notEqual(other.settingsKey, more.settingsKey);
  assert.equal(lines().length, 4);
});
